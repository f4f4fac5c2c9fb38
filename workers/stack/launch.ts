import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { generateApiKey } from '../../db/api-keys.js';
import { migrate, openOrm } from '../../db/orm.js';
import { seedDevTenancy } from '../../db/seed-dev.js';
import { seedDevPrices } from '../../db/budget-admin.js';
import { seedDevPersonas } from '../../db/personas.js';
import { freePort } from './free-port.js';
import { spawnEntrypoint } from './processes.js';
import { startPostgres } from './postgres.js';
import { startTemporal } from './temporal.js';
import { writeWorkflowBundle } from '../workflow-bundle.js';
import { devFleet } from './dev-fleet.js';

export interface StackOptions {
  dataDir: string;
  /** Pick free loopback ports for everything (tests); otherwise the documented dev ports. */
  freePorts: boolean;
  ports: { api: number; temporal: number; ui: number; postgres: number; vllm: number; triton: number; tritonMetrics: number; workerMetrics: number };
  simulator: { ttftMs: number; itlMs: number };
  /** How many API and worker processes (scale-out on one machine; default one each). */
  apis?: number;
  workers?: number;
  /** Extra environment for the API and worker processes. */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags for the API processes only (the benchmark profiles its one API over --inspect). */
  apiNodeArgs?: string[];
  log: (source: string, line: string) => void;
}

export interface Stack {
  /** The first API; every one of `apiUrls` serves the same API (behind a load balancer in production). */
  apiUrl: string;
  apiUrls: string[];
  /** The first worker's Prometheus endpoint (an API's is its URL + /metrics); one per worker in the other. */
  workerMetricsUrl: string;
  workerMetricsUrls: string[];
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  databaseUrl: string;
  nodes: string;
  apiKey: string;
  adminToken: string;
  dataDir: string;
  /** Process ids of the components, for the benchmark's memory and CPU-affinity handling. */
  pids: { api: number; worker: number; simulator: number; tritonSimulator: number; temporal: number; postgres: number | null };
  stop(): Promise<void>;
}

export const DEV_MODELS = ['qwen3:0.6b', 'qwen3:8b', 'qwen2.5-coder:7b', 'broken:latest'];
export const TRITON_MODELS = ['qwen3:8b', 'llama3.3:70b'];

/** A secret kept in the data dir so a second `make dev` reuses it; an env value always wins. */
function persistedSecret(file: string, fromEnv: string | undefined, make: () => string): string {
  if (fromEnv) {
    writeFileSync(file, fromEnv + '\n', { mode: 0o600 });
    return fromEnv;
  }
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const value = make();
  writeFileSync(file, value + '\n', { mode: 0o600 });
  return value;
}

function postgresPid(pgdata: string): number | null {
  try {
    return Number(readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
  } catch {
    return null;
  }
}

/** The whole embedded stack, in dependency order, each component on loopback. */
export async function launchStack(opts: StackOptions): Promise<Stack> {
  mkdirSync(opts.dataDir, { recursive: true });
  const port = async (fixed: number) => (opts.freePorts ? freePort() : fixed);
  const [pgPort, temporalPort, uiPort] = [await port(opts.ports.postgres), await port(opts.ports.temporal), await port(opts.ports.ui)];
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((e) => opts.log('stack', `stop failed: ${(e as Error).message}`));
  };
  const simulator = (engine: 'vllm' | 'triton', port: number, models: string[], extra: string[]) =>
    spawnEntrypoint({
      name: `simulator-${engine}`,
      script: 'simulator/main.ts',
      args: [
        ...['--engine', engine, '--port', String(port), '--models', models.join(',')],
        ...['--time-to-first-token', String(opts.simulator.ttftMs), '--inter-token-latency', String(opts.simulator.itlMs)],
        ...extra,
      ],
      readyEvent: 'simulator.ready',
      onLine: opts.log,
    });
  try {
    const namespace = opts.env?.TEMPORAL_NAMESPACE ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
    const [postgres, temporal, sim, tritonSim, workflowBundle] = await Promise.all([
      startPostgres({ dataDir: path.join(opts.dataDir, 'postgres'), port: pgPort, database: 'genie', log: (l) => opts.log('postgres', l) }),
      startTemporal({ dataDir: path.join(opts.dataDir, 'temporal'), port: temporalPort, uiPort, namespace, log: (l) => opts.log('temporal', l) }),
      simulator('vllm', opts.freePorts ? 0 : opts.ports.vllm, DEV_MODELS, ['--fail-load-model', 'broken:latest']),
      simulator('triton', opts.freePorts ? 0 : opts.ports.triton, TRITON_MODELS, ['--metrics-port', String(opts.freePorts ? 0 : opts.ports.tritonMetrics)]),
      // Bundled once here, while the services start, instead of in every API and worker.
      writeWorkflowBundle(path.join(opts.dataDir, 'workflow-bundle.js')),
    ]);
    stops.push(postgres.stop, temporal.stop, sim.stop, tritonSim.stop);

    const apiKey = persistedSecret(path.join(opts.dataDir, 'dev-api-key'), process.env.GENIE_DEV_API_KEY, () => generateApiKey());
    const adminToken = persistedSecret(path.join(opts.dataDir, 'admin-token'), process.env.GENIE_ADMIN_TOKEN, () => randomBytes(24).toString('hex'));
    const orm = await openOrm(postgres.url, 2);
    try {
      await migrate(orm, postgres.url);
      await seedDevTenancy(orm.em.fork(), apiKey);
      await seedDevPrices(orm.em.fork());
      await seedDevPersonas(orm.em.fork());
    } finally {
      await orm.close();
    }

    // Your own engines (GENIE_NODES / GENIE_NODES_FILE) replace the simulators in the fleet; the
    // simulators still run on their ports, outside it.
    const simulated = `vllm=${sim.ready.url as string},triton=${tritonSim.ready.url as string};metrics=${tritonSim.ready.metricsUrl as string}`;
    const { nodes, own: ownNodes, fleet } = devFleet(simulated, process.env);
    if (ownNodes) opts.log('stack', `fleet ${fleet}: your nodes (GENIE_NODES=${process.env.GENIE_NODES ?? ''} GENIE_NODES_FILE=${process.env.GENIE_NODES_FILE ?? ''}); the simulators are not in it`);
    const env: NodeJS.ProcessEnv = {
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: namespace,
      GENIE_NODES: nodes,
      ...(fleet ? { GENIE_FLEET: fleet } : {}),
      GENIE_ADMIN_TOKEN: adminToken,
      // Dev and tests deliver webhooks to receivers on this machine; production allows none by default.
      GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1,localhost,::1',
      GENIE_WORKFLOW_BUNDLE: workflowBundle,
      ...opts.env,
    };
    // Fixed dev ports count up from the first (8080, 8081, …; 9464, 9465, …); tests take free ones.
    const [workers, apis] = await Promise.all([
      Promise.all(
        Array.from({ length: opts.workers ?? 1 }, (_, i) =>
          spawnEntrypoint({ name: i ? `worker-${i + 1}` : 'worker', script: 'workers/worker.ts', env: { ...env, GENIE_METRICS_PORT: String(opts.freePorts ? 0 : opts.ports.workerMetrics + i) }, readyEvent: 'worker.ready', onLine: opts.log }),
        ),
      ),
      Promise.all(
        Array.from({ length: opts.apis ?? 1 }, (_, i) =>
          spawnEntrypoint({ name: i ? `api-${i + 1}` : 'api', script: 'workers/api.ts', nodeArgs: opts.apiNodeArgs, env: { ...env, GENIE_PORT: String(opts.freePorts ? 0 : opts.ports.api + i) }, readyEvent: 'api.ready', onLine: opts.log }),
        ),
      ),
    ]);
    const [worker, api] = [workers[0], apis[0]];
    stops.push(...workers.map((w) => w.stop), ...apis.map((a) => a.stop));
    return {
      apiUrl: api.ready.url as string,
      apiUrls: apis.map((a) => a.ready.url as string),
      workerMetricsUrl: worker.ready.metricsUrl as string,
      workerMetricsUrls: workers.map((w) => w.ready.metricsUrl as string),
      temporalAddress: temporal.address,
      namespace,
      uiUrl: temporal.uiUrl,
      databaseUrl: postgres.url,
      nodes,
      apiKey,
      adminToken,
      dataDir: opts.dataDir,
      pids: { api: api.child.pid!, worker: worker.child.pid!, simulator: sim.child.pid!, tritonSimulator: tritonSim.child.pid!, temporal: temporal.child.pid!, postgres: postgresPid(path.join(opts.dataDir, 'postgres', 'pgdata')) },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

