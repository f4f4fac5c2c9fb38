import { EntitySchema } from '@mikro-orm/core';

/** One row per run of a completion, written by `settleUsage`; (workflow, run) as key makes retries book nothing twice. */
export interface UsageRecord {
  workflowId: string;
  runId: string;
  orgId: string;
  applicationId: string;
  memberId: string;
  userId: string;
  model: string;
  node: string | null;
  mode: string;
  promptTokens: number;
  completionTokens: number;
  outcome: string;
  createdAt: Date;
}
export const UsageRecordSchema = new EntitySchema<UsageRecord>({
  name: 'UsageRecord',
  tableName: 'usage_records',
  properties: {
    workflowId: { type: 'string', primary: true },
    runId: { type: 'string', primary: true },
    orgId: { type: 'string', index: true },
    applicationId: { type: 'string' },
    memberId: { type: 'string' },
    userId: { type: 'string' },
    model: { type: 'string' },
    node: { type: 'string', nullable: true },
    mode: { type: 'string' },
    promptTokens: { type: 'integer' },
    completionTokens: { type: 'integer' },
    outcome: { type: 'string' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});
