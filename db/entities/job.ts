import { EntitySchema } from '@mikro-orm/core';
import type { JobView } from '../../protocol/job.js';

/** Postgres projection of an async job, upserted by the workflow at every state change. */
export interface JobRecord {
  jobId: string;
  workflowId: string;
  orgId: string;
  status: string;
  view: JobView;
  requestHash: string | null;
  createdAt: Date;
  updatedAt: Date;
}
export const JobRecordSchema = new EntitySchema<JobRecord>({
  name: 'JobRecord',
  tableName: 'jobs',
  properties: {
    jobId: { type: 'string', primary: true },
    workflowId: { type: 'string', unique: true },
    orgId: { type: 'string', index: true },
    status: { type: 'string' },
    view: { type: 'json' },
    requestHash: { type: 'string', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
    updatedAt: { type: 'Date', onCreate: () => new Date(), onUpdate: () => new Date() },
  },
});

export interface WebhookSecret {
  workflowId: string;
  secret: string;
  createdAt: Date;
}
export const WebhookSecretSchema = new EntitySchema<WebhookSecret>({
  name: 'WebhookSecret',
  tableName: 'webhook_secrets',
  properties: {
    workflowId: { type: 'string', primary: true },
    secret: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
