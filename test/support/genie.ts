import { randomBytes } from 'node:crypto';
import { spawnEntrypoint, type Managed } from '../../workers/stack/processes.js';
import { testStack, withTemporal } from './stack.js';

export interface IsolatedGenie {
  apiUrl: string;
  apiUrls: string[];
  queuePrefix: string;
  /** The environment its processes run with (to start more of them). */
  env: NodeJS.ProcessEnv;
  workers: Managed[];
  apis: Managed[];
  /** Kills and restarts the first worker process (same queues, same nodes); `meanwhile` runs between the two. */
  restartWorker(signal?: NodeJS.Signals, meanwhile?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A separate Genie deployment (its own worker + API processes and task queues) on the shared Postgres
 * and Temporal, pointed at nodes the test controls — for failover, hang, failure and scale-out scenarios.
 */
export async function startIsolatedGenie(opts: {
  nodes: string;
  env?: NodeJS.ProcessEnv;
  apis?: number;
  workers?: number;
  /** Every line the processes print besides their ready line (their logs). */
  onLine?: (process: string, line: string) => void;
}): Promise<IsolatedGenie> {
  const s = testStack();
  const queuePrefix = `t${randomBytes(4).toString('hex')}-`;
  const env: NodeJS.ProcessEnv = {
    NODE_OPTIONS: '',
    DATABASE_URL: s.databaseUrl,
    TEMPORAL_ADDRESS: s.temporalAddress,
    TEMPORAL_NAMESPACE: s.namespace,
    GENIE_NODES: opts.nodes,
    GENIE_TASK_QUEUE_PREFIX: queuePrefix,
    GENIE_FLEET: queuePrefix.replace(/-$/, ''),
    GENIE_REGISTRY_REFRESH_MS: '300',
    GENIE_PROBE_INTERVAL_MS: '1000',
    GENIE_PROBE_TIMEOUT_MS: '5000',
    GENIE_LOG_LEVEL: 'warn',
    // A test's own fleet serves fixture models nobody prices: free on purpose (a test of the refusal
    // of unpriced models sets this to '').
    GENIE_FREE_MODELS: '*',
    GENIE_PORT: '0',
    GENIE_METRICS_PORT: '0',
    GENIE_ADMIN_TOKEN: s.adminToken,
    ...opts.env,
  };
  // A worker is ready once it has probed its nodes: a real engine busy with the rest of the suite can
  // take most of a minute to answer on a loaded 2-core machine (seen on CI), so the wait is generous.
  const ready = { timeoutMs: 120_000, onLine: opts.onLine };
  const startWorker = () => spawnEntrypoint({ name: 'worker', script: 'workers/worker.ts', env, readyEvent: 'worker.ready', ...ready });
  const startApi = () => spawnEntrypoint({ name: 'api', script: 'workers/api.ts', env, readyEvent: 'api.ready', ...ready });
  const [workers, apis] = await Promise.all([
    Promise.all(Array.from({ length: opts.workers ?? 1 }, startWorker)),
    Promise.all(Array.from({ length: opts.apis ?? 1 }, startApi)),
  ]);
  const genie: IsolatedGenie = {
    apiUrl: apis[0].ready.url as string,
    apiUrls: apis.map((a) => a.ready.url as string),
    queuePrefix,
    env,
    workers,
    apis,
    async restartWorker(signal = 'SIGKILL', meanwhile) {
      await genie.workers[0].stop(signal);
      await meanwhile?.();
      genie.workers[0] = await startWorker();
    },
    async stop() {
      await Promise.all([...genie.workers, ...genie.apis].map((p) => p.stop()));
      // Its workers created the deployment's Schedules (sweeps, retention): they go with it, or they
      // would keep starting workflows on a queue nobody polls for the rest of the suite.
      await withTemporal(async (client) => {
        for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(queuePrefix)) await client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
      });
    },
  };
  return genie;
}
