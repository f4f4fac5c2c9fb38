import { spawnEntrypoint, type Managed } from '../../workers/stack/processes.js';
import { pct } from '../stats.js';
import { post, type Target } from '../target.js';

// Issue 7's check: with two nodes of different speeds, load-aware selection (power of two choices on
// the probed metrics) against round-robin, the same open-loop load on each, p99 in the same run.

interface StackRefs { databaseUrl: string; temporalAddress: string; namespace: string; apiKey: string; adminToken: string }

async function deployment(stack: StackRefs, name: string, nodes: string, selection: 'p2c' | 'round-robin'): Promise<{ url: string; stop(): Promise<void> }> {
  const env = {
    NODE_OPTIONS: '',
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_NAMESPACE: stack.namespace,
    GENIE_NODES: nodes,
    GENIE_FLEET: name,
    GENIE_TASK_QUEUE_PREFIX: `${name}-`,
    GENIE_SELECTION: selection,
    GENIE_FREE_MODELS: 'placement-model', // the bench's fixture model, free on purpose
    GENIE_PROBE_INTERVAL_MS: '1000',
    GENIE_REGISTRY_REFRESH_MS: '250',
    GENIE_PROBE_TIMEOUT_MS: '5000',
    GENIE_LOG_LEVEL: 'warn',
    GENIE_PORT: '0',
    GENIE_METRICS_PORT: '0',
    GENIE_ADMIN_TOKEN: stack.adminToken,
  };
  const procs: Managed[] = await Promise.all([
    spawnEntrypoint({ name: `${name}-worker`, script: 'workers/worker.ts', env, readyEvent: 'worker.ready' }),
    spawnEntrypoint({ name: `${name}-api`, script: 'workers/api.ts', env, readyEvent: 'api.ready' }),
  ]);
  return { url: procs[1].ready.url as string, stop: async () => void (await Promise.all(procs.map((p) => p.stop()))) };
}

async function openLoop(t: Target, rate: number, seconds: number): Promise<number[]> {
  const lat: number[] = [];
  const t0 = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < rate * seconds; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    all.push(
      (async () => {
        const s = performance.now();
        const res = await post(t, { model: 'placement-model', max_tokens: 4, messages: [{ role: 'user', content: `p${i}` }] });
        await res.arrayBuffer();
        lat.push(res.status === 200 ? performance.now() - s : Infinity);
      })(),
    );
  }
  await Promise.all(all);
  return lat;
}

export async function placementScenario(stack: StackRefs, rate: number, seconds: number) {
  const sims = await Promise.all(
    [
      ['fast', '20', '2'],
      ['slow', '150', '10'],
    ].map(([, ttft, itl]) =>
      spawnEntrypoint({
        name: 'placement-sim',
        script: 'simulator/main.ts',
        args: ['--port', '0', '--models', 'placement-model', '--time-to-first-token', ttft, '--inter-token-latency', itl, '--max-num-seqs', '4'],
        readyEvent: 'simulator.ready',
      }),
    ),
  );
  const nodes = `fast:vllm=${sims[0].ready.url as string},slow:vllm=${sims[1].ready.url as string}`;
  const result: Record<string, { p50: number; p99: number; requests: number }> = {};
  try {
    for (const selection of ['round-robin', 'p2c'] as const) {
      const d = await deployment(stack, `bench-${selection}`, nodes, selection);
      try {
        const target: Target = { name: 'genie', url: `${d.url}/v1/chat/completions`, headers: { authorization: `Bearer ${stack.apiKey}` }, pids: {} };
        await openLoop(target, rate, 2); // warm-up: probes see both nodes under load
        const lat = await openLoop(target, rate, seconds);
        result[selection] = { p50: pct(lat, 50), p99: pct(lat, 99), requests: lat.length + rate * 2 };
      } finally {
        await d.stop();
      }
    }
  } finally {
    await Promise.all(sims.map((s) => s.stop()));
  }
  return {
    rate,
    seconds,
    nodes: { fast: 'TTFT 20 ms, ITL 2 ms', slow: 'TTFT 150 ms, ITL 10 ms' },
    roundRobin: result['round-robin'],
    loadAware: result.p2c,
    p99RoundRobinOverLoadAware: +(result['round-robin'].p99 / result.p2c.p99).toFixed(2),
  };
}
