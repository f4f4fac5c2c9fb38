import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { SweepResult } from '../activities/budget/sweep-reservations.js';

const sweeping: ActivityOptions = {
  // Hundreds of describes and settlements at most (the activity takes up to 1000 reservations a sweep).
  startToCloseTimeout: '5m',
  // Temporal owns the retries: Postgres or Temporal away for a while is retried here, and what a sweep
  // cannot finish the next one (a minute later) takes; the schedule's run timeout bounds this run.
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};
const { sweepReservations } = proxyActivities<Activities>(sweeping);

/**
 * One sweep of the budget ledger, started by the deployment's schedule (`<prefix>genie-budget-sweep`,
 * every GENIE_SWEEP_INTERVAL_MS, created by each worker start): releases the reservations whose
 * completion workflow closed without settling. The activity runs on the workers' inference queue, where
 * no API process polls.
 */
export async function budgetSweep(input: { queue: string; graceMs: number }): Promise<SweepResult> {
  return await sweepReservations.executeWithOptions(
    { ...sweeping, taskQueue: input.queue, summary: `release reservations older than ${Math.round(input.graceMs / 1000)} s whose workflow is not running` },
    [{ graceMs: input.graceMs }],
  );
}
