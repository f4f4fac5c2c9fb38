import { NativeConnection, Worker } from '@temporalio/worker';
import { taskQueues } from '../workflows/definitions.js';
import { loadConfig } from './config.js';
import { ensureSweepSchedules } from './schedules.js';
import { configuredActivities, createCoreDeps, registerStaticNodes, workflowQueueWorkerOptions } from './deps.js';
import { ensureFleetProber } from './fleet-prober.js';
import { exitWithParent } from './exit-with-parent.js';
import { installTemporalRuntime } from './telemetry/runtime.js';
import { serveMetrics } from './telemetry/metrics-server.js';

// The Temporal worker process: workflows + short local activities on `genie-workflows`, batches on
// `genie-batches`, and the node-calling `generate` activity for async jobs on `genie-inference`.

const config = loadConfig();
const deps = await createCoreDeps(config, 'worker');
// SIGTERM/SIGINT: the runtime stops polling, lets running activities finish for the grace period, then
// cancels the rest (`generate` reports a worker shutdown and the workflow runs it on another worker).
const temporalMetrics = installTemporalRuntime({ log: deps.log, registry: deps.metrics.registry, shutdownSignals: ['SIGINT', 'SIGTERM'] });
const metricsServer = await serveMetrics({ registry: deps.metrics.registry, host: config.GENIE_HOST, port: config.GENIE_METRICS_PORT, beforeScrape: temporalMetrics.drain });
// The registry must know the static nodes, and have a verdict on each, before the first selection.
const unlisted = await registerStaticNodes(deps.orm, config);
if (unlisted.length) deps.log.info({ nodes: unlisted, fleet: config.GENIE_FLEET }, 'removed static nodes the node list no longer names');
await deps.probeNodes();
await deps.directory.refresh();
const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
const stopping = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopping.abort());
const activities = configuredActivities(deps, { stopping: stopping.signal });
const queues = taskQueues(config.GENIE_TASK_QUEUE_PREFIX);
const shutdown = { shutdownGraceTime: config.GENIE_SHUTDOWN_GRACE_MS, shutdownForceTime: config.GENIE_SHUTDOWN_GRACE_MS + 10_000 };

const workflows = await Worker.create({ connection, ...workflowQueueWorkerOptions(config, activities), ...shutdown });
// Batches and their lines: the same workflows and local steps, on a queue no API polls.
const batchWorkflows = await Worker.create({ connection, ...workflowQueueWorkerOptions(config, activities), taskQueue: queues.batches, ...shutdown });
const inference = await Worker.create({
  connection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: queues.inference,
  // The fleet's prober and the sweepers run here too: only workers poll this queue, so API processes
  // never probe or sweep.
  activities: {
    generate: activities.generate,
    probeFleetRounds: activities.probeFleetRounds,
    sweepReservations: activities.sweepReservations,
    sweepRetention: activities.sweepRetention,
    // A batch's validation and its output files: heavy on a 200 MB file, so never on an API process.
    validateBatch: activities.validateBatch,
    finalizeBatch: activities.finalizeBatch,
  },
  maxConcurrentActivityTaskExecutions: 512,
  ...shutdown,
});

await ensureFleetProber(config, deps.log);
await ensureSweepSchedules(config, deps.log);
exitWithParent(() => {
  for (const w of [workflows, batchWorkflows, inference]) if (w.getState() === 'RUNNING') w.shutdown();
});
console.log(JSON.stringify({ event: 'worker.ready', taskQueues: [queues.workflows, queues.batches, queues.inference], metricsUrl: metricsServer.url }));
await Promise.all([workflows.run(), batchWorkflows.run(), inference.run()]);
deps.log.info('workers drained; closing connections');
temporalMetrics.stop();
await metricsServer.close();
await connection.close();
await deps.close();
process.exit(0);

