import { NativeConnection, Worker } from '@temporalio/worker';
import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { Logger } from 'pino';
import { taskQueues } from '../workflows/definitions.js';
import type { budgetSweep } from '../workflows/budget-sweep.js';
import { loadConfig, type Config } from './config.js';
import { configuredActivities, createCoreDeps, registerStaticNodes, workflowQueueWorkerOptions } from './deps.js';
import { ensureFleetProber } from './fleet-prober.js';
import { exitWithParent } from './exit-with-parent.js';
import { installTemporalRuntime } from './telemetry/runtime.js';
import { serveMetrics } from './telemetry/metrics-server.js';

// The Temporal worker process: workflows + short local activities on `genie-workflows`, and the
// node-calling `generate` activity for async jobs on `genie-inference`.

const config = loadConfig();
const deps = await createCoreDeps(config, 'worker');
// SIGTERM/SIGINT: the runtime stops polling, lets running activities finish for the grace period, then
// cancels the rest (`generate` reports a worker shutdown and the workflow runs it on another worker).
const temporalMetrics = installTemporalRuntime({ log: deps.log, registry: deps.metrics.registry, shutdownSignals: ['SIGINT', 'SIGTERM'] });
const metricsServer = await serveMetrics({ registry: deps.metrics.registry, host: config.GENIE_HOST, port: config.GENIE_METRICS_PORT, beforeScrape: temporalMetrics.drain });
// The registry must know the static nodes, and have a verdict on each, before the first selection.
await registerStaticNodes(deps.orm, config);
await deps.probeNodes();
await deps.directory.refresh();
const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
const stopping = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopping.abort());
const activities = configuredActivities(deps, { stopping: stopping.signal });
const queues = taskQueues(config.GENIE_TASK_QUEUE_PREFIX);
const shutdown = { shutdownGraceTime: config.GENIE_SHUTDOWN_GRACE_MS, shutdownForceTime: config.GENIE_SHUTDOWN_GRACE_MS + 10_000 };

const workflows = await Worker.create({ connection, ...workflowQueueWorkerOptions(config, activities), ...shutdown });
const inference = await Worker.create({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: queues.inference,
  // The fleet's prober and the budget sweeper run here too: only workers poll this queue, so API
  // processes never probe or sweep.
  activities: { generate: activities.generate, probeFleetRounds: activities.probeFleetRounds, sweepReservations: activities.sweepReservations },
  maxConcurrentActivityTaskExecutions: 512,
  ...shutdown,
});

await ensureFleetProber(config, deps.log);
await ensureBudgetSweep(config, deps.log);
exitWithParent(() => {
  for (const w of [workflows, inference]) if (w.getState() === 'RUNNING') w.shutdown();
});
console.log(JSON.stringify({ event: 'worker.ready', taskQueues: [queues.workflows, queues.inference], metricsUrl: metricsServer.url }));
await Promise.all([workflows.run(), inference.run()]);
deps.log.info('workers drained; closing connections');
temporalMetrics.stop();
await metricsServer.close();
await connection.close();
await deps.close();
process.exit(0);

/**
 * Makes sure this deployment's budget sweeper is scheduled (`<prefix>genie-budget-sweep`, running the
 * `budgetSweep` workflow every GENIE_SWEEP_INTERVAL_MS): every worker start asks, idempotently — the
 * first creates it, a later one with other GENIE_SWEEP_* settings updates it, the rest leave it alone
 * (a pause set by ops is kept). Deployments sharing a namespace (task-queue prefixes) each have their
 * own; they share one ledger only when they share one Postgres, and sweeping it twice is harmless.
 */
async function ensureBudgetSweep(config: Config, log: Logger): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const queues = taskQueues(config.GENIE_TASK_QUEUE_PREFIX);
    const scheduleId = `${config.GENIE_TASK_QUEUE_PREFIX}genie-budget-sweep`;
    // Schedules count in whole seconds.
    const every = Math.round(config.GENIE_SWEEP_INTERVAL_MS / 1000) * 1000;
    const args: Parameters<typeof budgetSweep> = [{ queue: queues.inference, graceMs: config.GENIE_SWEEP_GRACE_MS }];
    const action: ScheduleOptionsStartWorkflowAction<typeof budgetSweep> = {
      type: 'startWorkflow',
      workflowType: 'budgetSweep',
      taskQueue: queues.workflows,
      args,
      // A sweep stuck without workers ends, and the schedule's next one starts afresh.
      workflowRunTimeout: '10m',
      staticSummary: `releases reservations older than ${Math.round(config.GENIE_SWEEP_GRACE_MS / 1000)} s whose completion workflow closed without settling`,
    };
    const spec = { intervals: [{ every }] };
    // One sweep at a time; sweeps missed while Temporal was away are not made up (the next one covers them).
    const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' } as const;
    try {
      await client.schedule.create({ scheduleId, spec, action, policies });
      log.info({ scheduleId, everyMs: every }, 'budget sweep scheduled');
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
      JSON.stringify(current.action.args) === JSON.stringify(args);
    if (same) return;
    // Another worker starting with other settings may update it at the same time: the last one wins,
    // and a lost race must not stop this worker.
    await handle
      .update((previous) => ({ spec, action, policies, state: { paused: previous.state.paused, note: previous.state.note } }))
      .then(() => log.info({ scheduleId, everyMs: every }, 'budget sweep schedule updated'))
      .catch((e) => log.warn({ scheduleId, err: (e as Error).message }, 'could not update the budget sweep schedule'));
  } finally {
    await connection.close();
  }
}
