import { Context } from '@temporalio/activity';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  agedWebhookSecrets,
  deleteAgedStreamResults,
  deleteEndedBatchLines,
  deleteExpiredFiles,
  deleteExpiredIdempotencyKeys,
  deleteWebhookSecrets,
  type AgedSecret,
} from '../../db/retention-sweep.js';
import { statesOf, workflowStateFrom, type WorkflowStateOf } from '../workflow-state.js';
import type { GenieMetrics } from '../metrics.js';
import { activityLog } from '../log.js';

// Retention (issue 16): webhook secrets are plain text, and keyed streams' records hold what a caller
// was sent; neither is needed for ever. A secret is read only by its own workflow's webhook attempts,
// which may run for a day and more after the job ends (the retry schedule), so a secret past the
// retention goes only once Temporal says its workflow is not running. A stream record is read only by
// a retry under the same Idempotency-Key while the key lives; the retention is never shorter than that
// (workers/config.ts). Expired keys name no job any more and go too.
// The Batch API (issue 17): files past their `expires_at` go, and the per-line rows of batches that
// ended (files written) more than the retention ago; the batch rows stay, listable.

export interface RetentionSweepInput {
  /** Webhook secrets, stream records and ended batches' line rows at least this old go (GENIE_RETENTION_HOURS). */
  retentionMs: number;
  /** Idempotency-Keys at least this old have expired (GENIE_IDEMPOTENCY_TTL_HOURS). */
  idempotencyTtlMs: number;
  /** Rows per statement, and statements per table and sweep: what one sweep leaves, the next takes. */
  batch?: number;
  maxBatches?: number;
}

export interface RetentionSweepResult {
  webhookSecrets: number;
  /** Past the retention, but their workflow still runs (its webhook may still need them): kept. */
  webhookSecretsOfRunningWorkflows: number;
  streamResults: number;
  idempotencyKeys: number;
  files: number;
  batchLines: number;
}

export interface SweepRetentionDeps {
  orm: MikroORM;
  metrics?: GenieMetrics;
  /** Defaults to the running activity's Temporal client (the worker's connection and namespace). */
  stateOf?: WorkflowStateOf;
}

const FILES_PER_STATEMENT = 20;
const BATCHES_PER_STATEMENT = 10;

export function createSweepRetention(deps: SweepRetentionDeps) {
  /** Idempotent: deleting what is gone deletes nothing; Temporal retries a failed sweep, the schedule starts the next. */
  return async function sweepRetention(input: RetentionSweepInput): Promise<RetentionSweepResult> {
    const stateOf = deps.stateOf ?? workflowStateFrom(Context.current().client);
    const em = deps.orm.em.fork();
    const batch = input.batch ?? 1000;
    const maxBatches = input.maxBatches ?? 50;
    const result: RetentionSweepResult = { webhookSecrets: 0, webhookSecretsOfRunningWorkflows: 0, streamResults: 0, idempotencyKeys: 0, files: 0, batchLines: 0 };

    let after: AgedSecret | undefined;
    for (let i = 0; i < maxBatches; i++) {
      const aged = await agedWebhookSecrets(em, { olderThanMs: input.retentionMs, limit: batch, after });
      if (!aged.length) break;
      // The secret's workflow: its latest run (a secret is keyed by workflow id, not run).
      const states = await statesOf(aged.map((s) => ({ workflowId: s.workflowId, runId: '' })), stateOf);
      const done = aged.filter((_, j) => states[j].state !== 'running');
      result.webhookSecretsOfRunningWorkflows += aged.length - done.length;
      result.webhookSecrets += await deleteWebhookSecrets(em, done.map((s) => s.workflowId), input.retentionMs);
      if (aged.length < batch) break;
      after = aged[aged.length - 1];
      Context.current().heartbeat();
    }
    for (let i = 0; i < maxBatches; i++) {
      const n = await deleteAgedStreamResults(em, input.retentionMs, batch);
      result.streamResults += n;
      if (n < batch) break;
      Context.current().heartbeat();
    }
    for (let i = 0; i < maxBatches; i++) {
      const n = await deleteExpiredIdempotencyKeys(em, input.idempotencyTtlMs, batch);
      result.idempotencyKeys += n;
      if (n < batch) break;
      Context.current().heartbeat();
    }

    // A file may hold 200 MiB: a few per statement.
    for (let i = 0; i < maxBatches; i++) {
      const n = await deleteExpiredFiles(em, FILES_PER_STATEMENT);
      result.files += n;
      if (n < FILES_PER_STATEMENT) break;
      Context.current().heartbeat();
    }
    // A batch may have 50,000 lines: a few batches per statement.
    for (let i = 0; i < maxBatches; i++) {
      const n = await deleteEndedBatchLines(em, input.retentionMs, BATCHES_PER_STATEMENT);
      result.batchLines += n.lines;
      if (n.batches < BATCHES_PER_STATEMENT) break;
      Context.current().heartbeat();
    }

    deps.metrics?.retentionDeletedRows.inc({ table: 'webhook_secrets' }, result.webhookSecrets);
    deps.metrics?.retentionDeletedRows.inc({ table: 'stream_results' }, result.streamResults);
    deps.metrics?.retentionDeletedRows.inc({ table: 'idempotency_keys' }, result.idempotencyKeys);
    deps.metrics?.retentionDeletedRows.inc({ table: 'files' }, result.files);
    deps.metrics?.retentionDeletedRows.inc({ table: 'batch_lines' }, result.batchLines);
    if (result.webhookSecrets + result.streamResults + result.idempotencyKeys + result.files + result.batchLines > 0) activityLog().info('retention sweep', { ...result });
    return result;
  };
}
