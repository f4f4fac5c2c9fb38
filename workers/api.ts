import http from 'node:http';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createApp } from '../api/app.js';
import { createCompletionService } from '../api/completion/service.js';
import { InteractiveMark } from '../db/interactive-activity.js';
import { CallerRegistry } from '../api/completion/held-callers.js';
import { keepStreamRecord } from '../db/stream-results.js';
import { createJobService } from '../api/jobs.js';
import { BudgetStore } from '../db/budget-store.js';
import { PersonaCache } from '../api/personas.js';
import { newId } from '../db/ids.js';
import { taskQueues } from '../workflows/definitions.js';
import { loadConfig } from './config.js';
import { configuredActivities, createCoreDeps, workflowQueueWorkerOptions } from './deps.js';
import { exitWithParent } from './exit-with-parent.js';
import { installTemporalRuntime } from './telemetry/runtime.js';
import { drainHttp } from './drain.js';
import { DependencyMonitor } from '../api/dependency-monitor.js';
import { createBatchService } from '../api/batches.js';
import { BatchStore } from '../db/batches.js';
import { PostgresFileStore } from '../db/file-store.js';

// The API process: the express edge, and a Temporal worker for the completions it holds callers for.
// Its starts are eager, so a sync or stream completion's workflow task runs here, and its `generate`
// (a local activity) writes to the caller's socket in memory; the fallback `generate` activity on this
// process's own task queue does the same when a task ran elsewhere. Tokens never cross Temporal history.

const config = loadConfig();
const callers = new CallerRegistry();
const deps = await createCoreDeps(config, 'api', { heldCallers: () => callers.size, sseBufferedBytes: () => callers.bufferedBytes() });
// Signals are ours to handle here: the listener drains before the workers may stop.
const temporalMetrics = installTemporalRuntime({ log: deps.log, registry: deps.metrics.registry, shutdownSignals: [] });
const instance = config.GENIE_INSTANCE_ID ?? `${os.hostname()}-${newId('', 6)}`;
const queues = taskQueues(config.GENIE_TASK_QUEUE_PREFIX);
const apiQueue = queues.api(instance);

const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
// A Client on the worker's NativeConnection is what lets a start be eager: the server hands the first
// workflow task straight back to this process's workflow worker.
const temporal = new Client({ connection: nativeConnection, namespace: config.TEMPORAL_NAMESPACE });
const activities = configuredActivities(deps, {
  callers,
  onAdmission: (workflowId, outcome) => callers.admitted(workflowId, outcome),
  keepStream: (workflowId, record) => keepStreamRecord(deps.orm, workflowId, record),
});
const slots = config.GENIE_API_WORKFLOW_TASK_SLOTS;
/** After the grace period: how long the generations cut at its end get to answer their callers and settle. */
const CUT_MS = 5000;
// Workflow tasks of the completions this process starts run here first; later ones follow the sticky
// queue, and fall back to the shared queue (the workers) if this process goes away. A caller-held
// completion holds its task slot while it generates, so slots are many and pollers few.
const workflowWorker = config.GENIE_API_EAGER_START
  ? await Worker.create({
      connection: nativeConnection,
      ...workflowQueueWorkerOptions(config, activities),
      maxConcurrentWorkflowTaskExecutions: slots,
      maxConcurrentLocalActivityExecutions: slots,
      maxConcurrentWorkflowTaskPolls: 2,
      // No thread hop per activation (GENIE_API_WORKFLOW_THREAD): the SDK names running workflows on the
      // main thread debug mode; its other effect, no deadlock timeout, the lean sandbox has already.
      debugMode: config.GENIE_API_WORKFLOW_THREAD === 'main',
      // Async completions started here keep their workflow tasks here (sticky): settlement, projections
      // and webhook attempts run as local activities of this worker, so they get the whole grace period.
      // Longer than the HTTP drain by the time the cut takes: a caller-held generation still running
      // when the drain ends must be told 503 by `callers.shutdown()`, never cancelled under it by the SDK.
      shutdownGraceTime: config.GENIE_SHUTDOWN_GRACE_MS + CUT_MS,
    })
  : null;
const workflowRun = workflowWorker?.run() ?? Promise.resolve();
const worker = await Worker.create({
  connection: nativeConnection,
  namespace: config.TEMPORAL_NAMESPACE,
  taskQueue: apiQueue,
  activities: { generate: activities.generate },
  maxConcurrentActivityTaskExecutions: slots,
  // Streams already had the grace period while the listener drained; what is left was cut (inline error).
  shutdownGraceTime: 1000,
});
const workerRun = worker.run();

const personas = new PersonaCache(deps.orm);
const completions = createCompletionService({
  personas,
  temporal,
  orm: deps.orm,
  callers,
  queues,
  apiQueue,
  keepAliveMs: config.GENIE_SSE_KEEPALIVE_MS,
  webhookGuard: deps.webhookGuard,
  webhookScheduleMs: config.GENIE_WEBHOOK_RETRY_SCHEDULE,
  defaultMaxTokens: config.GENIE_DEFAULT_MAX_TOKENS,
  asyncNodeWaitMs: config.GENIE_ASYNC_NODE_WAIT_MS,
  idempotencyTtlMs: config.GENIE_IDEMPOTENCY_TTL_HOURS * 3_600_000,
  callerHeldTaskTimeoutMs: config.GENIE_CALLER_HELD_TASK_TIMEOUT_MS,
  log: deps.log,
  metrics: deps.metrics,
  eagerStart: config.GENIE_API_EAGER_START,
  // Only where batch lines yield: otherwise nobody reads the mark.
  interactive: config.GENIE_BATCH_YIELD_MS > 0 ? new InteractiveMark(deps.orm, config.GENIE_FLEET, (err) => deps.log.warn({ err: err.message }, 'interactive mark not written')) : undefined,
});
let draining = false;
// Its own connection without the client's retries: a check must learn "unreachable" at once, not after
// the backoff meant for calls that must succeed.
const probeConnection = Connection.lazy({ address: config.TEMPORAL_ADDRESS, interceptors: [] });
const dependencies = new DependencyMonitor(
  { postgres: () => deps.orm.em.fork().getConnection().execute('select 1'), temporal: () => probeConnection.workflowService.getSystemInfo({}) },
  { intervalMs: config.GENIE_DEPENDENCY_CHECK_MS, timeoutMs: 2000 },
);
dependencies.start();
const jobs = createJobService({ temporal, orm: deps.orm, cancelWaitMs: 5000 });
const files = new PostgresFileStore(deps.orm);
const batches = createBatchService({
  temporal,
  orm: deps.orm,
  batches: new BatchStore(deps.orm),
  files,
  webhookGuard: deps.webhookGuard,
  queues,
  webhookScheduleMs: config.GENIE_WEBHOOK_RETRY_SCHEDULE,
  concurrency: config.GENIE_BATCH_CONCURRENCY,
  orgConcurrency: config.GENIE_BATCH_ORG_CONCURRENCY,
  linesPerRun: config.GENIE_BATCH_LINES_PER_RUN,
  completionWindowMs: config.GENIE_BATCH_COMPLETION_WINDOW_MS,
});
const app = createApp({
  orm: deps.orm,
  temporal,
  directory: deps.directory,
  completions,
  jobs,
  batches,
  files,
  budgets: new BudgetStore(deps.orm),
  personas,
  fleet: config.GENIE_FLEET,
  probeNodes: deps.probeNodes,
  log: deps.log,
  adminToken: config.GENIE_ADMIN_TOKEN,
  authCache: { ttlMs: config.GENIE_AUTH_CACHE_TTL_MS, maxKeys: config.GENIE_AUTH_CACHE_MAX_KEYS },
  metrics: deps.metrics,
  dependencies,
  draining: () => draining,
  beforeScrape: temporalMetrics.drain,
});
const server = http.createServer(app);
server.keepAliveTimeout = 65_000;
await new Promise<void>((resolve) => server.listen(config.GENIE_PORT, config.GENIE_HOST, resolve));
const { port } = server.address() as AddressInfo;
console.log(JSON.stringify({ event: 'api.ready', url: `http://${config.GENIE_HOST}:${port}`, taskQueue: apiQueue, metricsUrl: `http://${config.GENIE_HOST}:${port}/metrics` }));

/**
 * SIGTERM: /healthz turns 503 (draining); after GENIE_DRAIN_DELAY_MS (for load balancers to notice) the
 * listener closes; requests in flight (streams above all) finish within the grace period; then the
 * activity worker stops (its `generate` activities belong to those requests), then the connections.
 * The workflow worker stops taking tasks at once — the workers take the next ones — and finishes what
 * it runs (an async job's settlement or webhook attempt) within the same grace period.
 */
let stopping: Promise<void> | null = null;
const shutdown = (signal: string) =>
  (stopping ??= (async () => {
    draining = true;
    workflowWorker?.shutdown();
    deps.log.info({ signal, graceMs: config.GENIE_SHUTDOWN_GRACE_MS, drainDelayMs: config.GENIE_DRAIN_DELAY_MS }, 'draining: /healthz says so; waiting for requests in flight');
    if (config.GENIE_DRAIN_DELAY_MS > 0) await new Promise((r) => setTimeout(r, config.GENIE_DRAIN_DELAY_MS));
    const { unfinished } = await drainHttp(server, config.GENIE_SHUTDOWN_GRACE_MS);
    if (unfinished > 0) deps.log.warn({ unfinished }, 'grace period over: cutting the requests still running');
    // Every generation still running here tells its caller 503 (inline for a stream) and settles.
    callers.shutdown();
    await Promise.race([callers.drained(), new Promise((r) => setTimeout(r, CUT_MS))]);
    worker.shutdown();
    await Promise.all([workerRun, workflowRun]).catch((e) => deps.log.error({ err: (e as Error).message }, 'a worker stopped with an error'));
    // The activities just cut wrote their callers an inline error or a 503: let those answers out.
    await drainHttp(server, 1000);
    server.closeAllConnections();
    temporalMetrics.stop();
    dependencies.stop();
    await probeConnection.close();
    await nativeConnection.close();
    await deps.close();
    deps.log.info('stopped');
    process.exit(0);
  })());
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
exitWithParent(() => void shutdown('parent exited'));
