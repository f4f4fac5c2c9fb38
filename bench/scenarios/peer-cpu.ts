import { closedLoop } from '../genie-client.js';
import { cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';
import { post, type Target } from '../target.js';

/**
 * CPU per request of a yardstick beside Genie: the same sync requests as cpu-per-completion.ts, at the
 * same concurrency, each process's CPU from /proc over the batch. For a plain gateway (Portkey): HTTP
 * in, HTTP to the node, HTTP out — the part of a completion no design can skip. For the design floor
 * (design-floor.ts): its process, Postgres and the Temporal server; the last few workflows' close,
 * after their answers, may fall outside the window (at most `concurrency` of `n`).
 */
export async function requestCpuScenario(target: Target, pids: Record<string, number | null>, n: number, concurrency: number) {
  const before = cpuMs(pids);
  await closedLoop(n, concurrency, async (i) => {
    const res = await post(target, { model: 'qwen3:0.6b', max_tokens: 16, messages: [{ role: 'user', content: `cpu ${target.name} ${i}` }] });
    if (res.status !== 200) throw new Error(`request cpu: ${target.name} answered ${res.status}`);
    await res.arrayBuffer();
  });
  const used = cpuDelta(before, cpuMs(pids));
  return { n, concurrency, msPerRequest: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, round(v / n)])) };
}

/** A plain gateway's CPU per request, as the yardstick for Genie's own code. */
export async function peerCpuScenario(peer: Target, pid: number, n: number, concurrency: number) {
  const { msPerRequest } = await requestCpuScenario(peer, { peer: pid }, n, concurrency);
  return { n, concurrency, msPerRequest: msPerRequest.peer };
}
