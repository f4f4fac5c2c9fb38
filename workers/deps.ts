import { readFileSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { NodeClient } from '../activities/inference/node-client.js';
import { TritonClient } from '../activities/inference/triton.js';
import { VllmClient } from '../activities/inference/vllm.js';
import { NodeDirectory } from '../activities/nodes/node-directory.js';
import { nodeRefSchema, type NodeRef } from '../activities/nodes/node-list.js';
import { createProbeNodes } from '../activities/nodes/probe-nodes.js';
import { pruneStaticNodes, upsertNode } from '../db/nodes.js';
import { migrate, openOrm } from '../db/orm.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';
import { createMetrics, type GenieMetrics } from '../activities/metrics.js';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { BudgetStore } from '../db/budget-store.js';
import { WebhookUrlGuard } from '../activities/webhooks/url-guard.js';
import { HostResolver } from '../activities/webhooks/host-resolver.js';
import { taskQueues } from '../workflows/definitions.js';
import { workflowSandboxOptions } from './workflow-sandbox.js';
import { workflowCode } from './workflow-bundle.js';

/**
 * Webhook host resolutions in flight per process. Each ends within GENIE_WEBHOOK_DNS_TIMEOUT_MS, so
 * this bounds the sockets and the DNS traffic that callers' hostnames can cause, not anyone's wait.
 */
const WEBHOOK_DNS_CONCURRENCY = 32;

/** The dependency root shared by the API and worker processes. */
export interface CoreDeps {
  config: Config;
  log: Logger;
  /** This process's Prometheus registry and Genie's metrics in it. */
  metrics: GenieMetrics;
  orm: MikroORM;
  directory: NodeDirectory;
  /** One per process: its resolver's concurrency bound is the process's. */
  webhookGuard: WebhookUrlGuard;
  clientFor(node: NodeRef): NodeClient;
  /** Probes the fleet once and records the verdicts (also the probe schedule's activity). */
  probeNodes(): Promise<{ probed: number; healthy: number }>;
  close(): Promise<void>;
}

/**
 * Static nodes from GENIE_NODES and GENIE_NODES_FILE, registered (idempotently) in this fleet; static
 * nodes of earlier starts that the list no longer names are removed (admin-added nodes are kept).
 * Returns the names removed.
 */
export async function registerStaticNodes(orm: MikroORM, config: Config): Promise<string[]> {
  const fromFile = config.GENIE_NODES_FILE ? z.array(nodeRefSchema).parse(JSON.parse(readFileSync(config.GENIE_NODES_FILE, 'utf8'))) : [];
  const listed = [...config.GENIE_NODES, ...fromFile];
  for (const node of listed) await upsertNode(orm.em.fork(), config.GENIE_FLEET, node, true);
  return pruneStaticNodes(orm.em.fork(), config.GENIE_FLEET, listed.map((n) => n.name));
}

export async function createCoreDeps(config: Config, component: string, gauges: { heldCallers?: () => number; sseBufferedBytes?: () => number } = {}): Promise<CoreDeps> {
  const log = createLogger(component, config.GENIE_LOG_LEVEL);
  const orm = await openOrm(config.DATABASE_URL);
  await migrate(orm, config.DATABASE_URL);
  const nodeHttp = { requestTimeoutMs: config.GENIE_NODE_TIMEOUT_MS, stallTimeoutMs: config.GENIE_NODE_STALL_TIMEOUT_MS, idleSocketMs: config.GENIE_NODE_IDLE_SOCKET_MS };
  const vllm = new VllmClient(nodeHttp);
  const triton = new TritonClient(nodeHttp);
  const clientFor = (node: NodeRef): NodeClient => (node.engine === 'triton' ? triton : vllm);
  const directory = new NodeDirectory(orm, config.GENIE_FLEET, config.GENIE_REGISTRY_REFRESH_MS, log);
  await directory.start();
  const metrics = createMetrics({ nodes: () => directory.snapshot(), ...gauges });
  const probeNodes = createProbeNodes({ orm, fleet: config.GENIE_FLEET, clientFor, probeTimeoutMs: config.GENIE_PROBE_TIMEOUT_MS, log });
  const webhookGuard = new WebhookUrlGuard({
    allowHosts: config.GENIE_WEBHOOK_ALLOW_HOSTS,
    resolver: new HostResolver({ servers: config.GENIE_WEBHOOK_DNS_SERVERS, timeoutMs: config.GENIE_WEBHOOK_DNS_TIMEOUT_MS, concurrency: WEBHOOK_DNS_CONCURRENCY }),
  });
  return {
    config,
    log,
    metrics,
    orm,
    directory,
    webhookGuard,
    clientFor,
    probeNodes,
    close: async () => {
      directory.stop();
      await orm.close();
    },
  };
}

/** Every activity, configured from this process's settings (`held`: what an API process adds). */
export function configuredActivities(deps: CoreDeps, held: Pick<ActivityDeps, 'callers' | 'onAdmission' | 'keepStream' | 'stopping'> = {}) {
  const { config } = deps;
  return createActivities({
    ...deps,
    ...held,
    budgets: new BudgetStore(deps.orm),
    selection: config.GENIE_SELECTION,
    fleet: config.GENIE_FLEET,
    saturation: { waitingThreshold: config.GENIE_SATURATION_WAITING, admissionTimeoutMs: config.GENIE_ADMISSION_TIMEOUT_MS },
    webhookTimeoutMs: config.GENIE_WEBHOOK_TIMEOUT_MS,
    probeIntervalMs: config.GENIE_PROBE_INTERVAL_MS,
    metrics: deps.metrics,
    // One keep-alive interval: the longest a stream caller hears nothing, head or comment.
    streamHeadWaitMs: config.GENIE_SSE_KEEPALIVE_MS,
    freeModels: config.GENIE_FREE_MODELS,
    queues: taskQueues(config.GENIE_TASK_QUEUE_PREFIX),
    defaultMaxTokens: config.GENIE_DEFAULT_MAX_TOKENS,
    asyncNodeWaitMs: config.GENIE_ASYNC_NODE_WAIT_MS,
    batchYieldMs: config.GENIE_BATCH_YIELD_MS,
  });
}

/**
 * A worker on the shared workflow queue: the workflows and their short (local) activities. Workers run
 * one; so does every API that starts sync/stream workflows eagerly.
 */
export function workflowQueueWorkerOptions(config: Config, activities: ReturnType<typeof configuredActivities>) {
  // generateHere and serveHere are local activities: registered wherever workflow tasks run; outside the
  // API process holding the caller they answer "not here" at once.
  const { admit, selectNode, settleUsage, projectJob, deliverWebhook, generateHere, serveHere } = activities;
  // The batch workflows' local steps (a line's load and record, the batch row's transitions).
  const { loadBatchLine, recordBatchLine, setBatchStatus, batchWindow, recordBatchWebhook, expireBatchLines } = activities;
  return {
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: taskQueues(config.GENIE_TASK_QUEUE_PREFIX).workflows,
    ...workflowCode(config),
    activities: { admit, selectNode, settleUsage, projectJob, deliverWebhook, generateHere, serveHere, loadBatchLine, recordBatchLine, setBatchStatus, batchWindow, recordBatchWebhook, expireBatchLines },
    ...workflowSandboxOptions(config),
  };
}
