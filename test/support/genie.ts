import { randomBytes } from 'node:crypto';
import { spawnEntrypoint, type Managed } from '../../workers/stack/processes.js';
import { testStack } from './stack.js';

export interface IsolatedGenie {
  apiUrl: string;
  queuePrefix: string;
  worker: Managed;
  api: Managed;
  /** Kills and restarts the worker process (same queues, same nodes). */
  restartWorker(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A separate Genie deployment (its own worker + API processes and task queues) on the shared Postgres
 * and Temporal, pointed at nodes the test controls — for failover, hang and failure scenarios.
 */
export async function startIsolatedGenie(opts: { nodes: string; env?: NodeJS.ProcessEnv }): Promise<IsolatedGenie> {
  const s = testStack();
  const queuePrefix = `t${randomBytes(4).toString('hex')}-`;
  const env: NodeJS.ProcessEnv = {
    NODE_OPTIONS: '',
    DATABASE_URL: s.databaseUrl,
    TEMPORAL_ADDRESS: s.temporalAddress,
    TEMPORAL_NAMESPACE: s.namespace,
    GENIE_NODES: opts.nodes,
    GENIE_TASK_QUEUE_PREFIX: queuePrefix,
    GENIE_NODE_PROBE_INTERVAL_MS: '500',
    GENIE_LOG_LEVEL: 'warn',
    GENIE_PORT: '0',
    ...opts.env,
  };
  const startWorker = () => spawnEntrypoint({ name: 'worker', script: 'workers/worker.ts', env, readyEvent: 'worker.ready' });
  const [worker, api] = await Promise.all([
    startWorker(),
    spawnEntrypoint({ name: 'api', script: 'workers/api.ts', env, readyEvent: 'api.ready' }),
  ]);
  const genie: IsolatedGenie = {
    apiUrl: api.ready.url as string,
    queuePrefix,
    worker,
    api,
    async restartWorker(signal = 'SIGKILL') {
      await genie.worker.stop(signal);
      genie.worker = await startWorker();
    },
    async stop() {
      await Promise.all([genie.worker.stop(), genie.api.stop()]);
    },
  };
  return genie;
}
