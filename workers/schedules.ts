import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleOptionsStartWorkflowAction, type Workflow } from '@temporalio/client';
import type { Logger } from 'pino';
import { taskQueues } from '../workflows/definitions.js';
import type { budgetSweep } from '../workflows/budget-sweep.js';
import type { retentionSweep } from '../workflows/retention-sweep.js';
import { retentionMs, type Config } from './config.js';

// The deployment's periodic jobs, as Temporal Schedules every worker start creates or updates,
// idempotently: the first creates a schedule, a later one with other settings updates it, the rest leave
// it alone (a pause set by ops is kept). Deployments sharing a namespace (task-queue prefixes) each have
// their own; they share rows only when they share one Postgres, and sweeping them twice is harmless.

interface PeriodicWorkflow<W extends Workflow> {
  scheduleId: string;
  workflowType: string;
  args: Parameters<W>;
  everyMs: number;
  /** The UI's summary of each run. */
  summary: string;
  /** A run stuck without workers ends, and the schedule's next one starts afresh. */
  runTimeout: string;
}

async function ensureSchedule<W extends Workflow>(client: Client, config: Config, log: Logger, job: PeriodicWorkflow<W>): Promise<void> {
  const { scheduleId } = job;
  // Schedules count in whole seconds.
  const every = Math.round(job.everyMs / 1000) * 1000;
  // Typed as any workflow's action: the caller's PeriodicWorkflow<W> checked the args against W.
  const action: ScheduleOptionsStartWorkflowAction<Workflow> = {
    type: 'startWorkflow',
    workflowType: job.workflowType,
    taskQueue: taskQueues(config.GENIE_TASK_QUEUE_PREFIX).workflows,
    args: job.args,
    workflowRunTimeout: job.runTimeout,
    staticSummary: job.summary,
  };
  const spec = { intervals: [{ every }] };
  // One run at a time; runs missed while Temporal was away are not made up (the next one covers them).
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' } as const;
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    log.info({ scheduleId, everyMs: every }, `${job.workflowType} scheduled`);
    return;
  } catch (e) {
    if (!(e instanceof ScheduleAlreadyRunning)) throw e;
  }
  const handle = client.schedule.getHandle(scheduleId);
  const current = await handle.describe();
  const same =
    current.spec.intervals?.length === 1 &&
    current.spec.intervals[0].every === every &&
    current.action.workflowType === action.workflowType &&
    current.action.taskQueue === action.taskQueue &&
    JSON.stringify(current.action.args) === JSON.stringify(job.args);
  if (same) return;
  // Another worker starting with other settings may update it at the same time: the last one wins,
  // and a lost race must not stop this worker.
  await handle
    .update((previous) => ({ spec, action, policies, state: { paused: previous.state.paused, note: previous.state.note } }))
    .then(() => log.info({ scheduleId, everyMs: every }, `${job.workflowType} schedule updated`))
    .catch((e) => log.warn({ scheduleId, err: (e as Error).message }, `could not update the ${job.workflowType} schedule`));
}

/**
 * The budget sweeper (`<prefix>genie-budget-sweep`, `budgetSweep` every GENIE_SWEEP_INTERVAL_MS) and the
 * retention sweeper (`<prefix>genie-retention-sweep`, `retentionSweep` every GENIE_RETENTION_SWEEP_INTERVAL_MS).
 */
export async function ensureSweepSchedules(config: Config, log: Logger): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const prefix = config.GENIE_TASK_QUEUE_PREFIX;
    const queue = taskQueues(prefix).inference;
    await ensureSchedule<typeof budgetSweep>(client, config, log, {
      scheduleId: `${prefix}genie-budget-sweep`,
      workflowType: 'budgetSweep',
      args: [{ queue, graceMs: config.GENIE_SWEEP_GRACE_MS }],
      everyMs: config.GENIE_SWEEP_INTERVAL_MS,
      summary: `releases reservations older than ${Math.round(config.GENIE_SWEEP_GRACE_MS / 1000)} s whose completion workflow closed without settling`,
      runTimeout: '10m',
    });
    const retention = retentionMs(config);
    await ensureSchedule<typeof retentionSweep>(client, config, log, {
      scheduleId: `${prefix}genie-retention-sweep`,
      workflowType: 'retentionSweep',
      args: [{ queue, retentionMs: retention, idempotencyTtlMs: config.GENIE_IDEMPOTENCY_TTL_HOURS * 3_600_000 }],
      everyMs: config.GENIE_RETENTION_SWEEP_INTERVAL_MS,
      summary: `deletes webhook secrets (of closed workflows) and stream records older than ${retention / 3_600_000} h, expired Idempotency-Keys and files, and the line rows of batches ended that long ago`,
      runTimeout: '30m',
    });
  } finally {
    await connection.close();
  }
}
