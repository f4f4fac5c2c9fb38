import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { WebhookUrlGuard } from '../activities/webhooks/url-guard.js';
import type { BatchStore } from '../db/batches.js';
import type { FileStore } from '../db/file-store.js';
import { newId } from '../db/ids.js';
import { TERMINAL_BATCH_STATUSES, type Batch, type BatchRunInput, type CreateBatch } from '../protocol/batch.js';
import { GenieError } from '../protocol/errors.js';
import type { Principal } from '../protocol/principal.js';
import { cancelBatchUpdate, searchAttributes, type taskQueues } from '../workflows/definitions.js';
import type { batchRun } from '../workflows/batch.js';

export interface BatchServiceDeps {
  temporal: Client;
  orm: MikroORM;
  batches: BatchStore;
  files: FileStore;
  webhookGuard: WebhookUrlGuard;
  queues: ReturnType<typeof taskQueues>;
  webhookScheduleMs: number[];
  /** GENIE_BATCH_CONCURRENCY, GENIE_BATCH_ORG_CONCURRENCY, GENIE_BATCH_LINES_PER_RUN. */
  concurrency: number;
  orgConcurrency: number;
  linesPerRun: number;
  /** GENIE_BATCH_COMPLETION_WINDOW_MS: `completion_window` "24h" unless ops or a test shorten it. */
  completionWindowMs: number;
}

/** Another org's batch and a missing one look the same. */
const noSuchBatch = (id: string) => GenieError.notFound(`No such Batch object: ${id}`);

/** The Batch API's API-process side: the batch row and its workflow (`batchRun`, id = the batch id). */
export function createBatchService(deps: BatchServiceDeps) {
  async function get(orgId: string, id: string): Promise<Batch> {
    return (await deps.batches.get(orgId, id)) ?? Promise.reject(noSuchBatch(id));
  }

  return {
    get,
    list: (orgId: string, after: string | undefined, limit: number) => deps.batches.list(orgId, after, limit),

    /** The file is checked here (404 / 400 at once); its lines are validated by the workflow (`validating`). */
    async create(principal: Principal, req: CreateBatch): Promise<Batch> {
      const file = await deps.files.get(principal.orgId, req.input_file_id);
      if (!file) throw GenieError.notFound(`No such File object: ${req.input_file_id}`);
      if (file.purpose !== 'batch') throw GenieError.badRequest(`File ${file.id} has purpose '${file.purpose}', not 'batch'.`, 'input_file_id');
      if (req.webhook) await deps.webhookGuard.assertAllowed(req.webhook.url);
      const id = newId('batch_');
      const expiresAt = new Date(Date.now() + deps.completionWindowMs);
      const batch = await deps.batches.create({ id, orgId: principal.orgId, inputFileId: file.id, metadata: req.metadata ?? null, webhookUrl: req.webhook?.url ?? null, expiresAt, outputExpiresAfterSeconds: req.output_expires_after?.seconds ?? null });
      // The secret is read at delivery time, never carried in workflow history (as for async jobs).
      if (req.webhook) await deps.orm.em.fork().getConnection().execute('insert into webhook_secrets (workflow_id, secret) values (?, ?) on conflict (workflow_id) do nothing', [id, req.webhook.secret]);
      const input: BatchRunInput = {
        batchId: id,
        principal,
        expiresAtMs: expiresAt.getTime(),
        concurrency: deps.concurrency,
        orgConcurrency: deps.orgConcurrency,
        linesPerRun: deps.linesPerRun,
        activityQueue: deps.queues.inference,
        webhook: req.webhook ? { url: req.webhook.url } : null,
        webhookScheduleMs: deps.webhookScheduleMs,
      };
      try {
        await deps.temporal.workflow.start<typeof batchRun>('batchRun', {
          workflowId: id,
          // Lines run as children on the same queue (a child's default): the workers' only.
          taskQueue: deps.queues.batches,
          args: [input],
          staticSummary: `batch · org ${principal.orgId} · file ${file.id} (${file.bytes} bytes)`,
          memo: { metadata: req.metadata ?? null },
          typedSearchAttributes: [
            { key: searchAttributes.orgId, value: principal.orgId },
            { key: searchAttributes.applicationId, value: principal.applicationId },
            { key: searchAttributes.mode, value: 'batch' },
            { key: searchAttributes.batchId, value: id },
          ],
        });
      } catch (e) {
        // No workflow, no progress: the batch must not read `validating` forever.
        await deps.batches.setStatus(id, 'failed', { errors: [{ code: 'server_error', message: 'The batch could not be started; create it again.', param: null, line: null }] });
        throw e;
      }
      return batch;
    },

    /**
     * Stops starting lines; lines already running finish and are kept, the rest are listed in the error
     * file as `batch_cancelled`. Idempotent: an ended or cancelling batch is returned as it is.
     */
    async cancel(orgId: string, id: string): Promise<Batch> {
      const batch = await get(orgId, id);
      if (TERMINAL_BATCH_STATUSES.includes(batch.status) || batch.status === 'cancelling') return batch;
      try {
        return await deps.temporal.workflow.getHandle(id).executeUpdate(cancelBatchUpdate);
      } catch (e) {
        // Ended between the read and the update: what it ended as is the answer.
        if (e instanceof WorkflowNotFoundError || (e as Error).name === 'WorkflowUpdateFailedError' || /completed|closed/i.test((e as Error).message)) return get(orgId, id);
        throw e;
      }
    },
  };
}

export type BatchService = ReturnType<typeof createBatchService>;
