import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { RetentionSweepResult } from '../activities/retention/sweep-retention.js';

const sweeping: ActivityOptions = {
  // Up to 50 batches of 1000 rows per table, and a describe per aged webhook secret.
  startToCloseTimeout: '10m',
  // Temporal owns the retries: Postgres or Temporal away for a while is retried here, and what a sweep
  // cannot finish the next one takes; the schedule's run timeout bounds this run.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
const { sweepRetention } = proxyActivities<Activities>(sweeping);

/**
 * One retention sweep, started by the deployment's schedule (`<prefix>genie-retention-sweep`, every
 * GENIE_RETENTION_SWEEP_INTERVAL_MS, created by each worker start): deletes webhook secrets (of
 * workflows no longer running), keyed streams' records and ended batches' line rows older than the
 * retention, and expired Idempotency-Keys and files. The activity runs on the workers' inference queue, where no API process polls.
 */
export async function retentionSweep(input: { queue: string; retentionMs: number; idempotencyTtlMs: number }): Promise<RetentionSweepResult> {
  const hours = (ms: number) => Math.round((ms / 3_600_000) * 100) / 100;
  return await sweepRetention.executeWithOptions(
    { ...sweeping, taskQueue: input.queue, summary: `delete webhook secrets, stream records and ended batches' lines older than ${hours(input.retentionMs)} h, keys older than ${hours(input.idempotencyTtlMs)} h, expired files` },
    [{ retentionMs: input.retentionMs, idempotencyTtlMs: input.idempotencyTtlMs }],
  );
}
