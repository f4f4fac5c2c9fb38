import { closedLoop } from '../genie-client.js';
import { cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';
import { post, type Target } from '../target.js';

/**
 * A plain gateway's CPU per request, as the yardstick for Genie's own code: the same sync requests
 * as cpu-per-completion.ts, at the same concurrency, through a peer (Portkey), its process's CPU
 * from /proc. HTTP in, HTTP to the node, HTTP out — the part of a completion no design can skip.
 */
export async function peerCpuScenario(peer: Target, pid: number, n: number, concurrency: number) {
  const before = cpuMs({ peer: pid });
  await closedLoop(n, concurrency, async (i) => {
    const res = await post(peer, { model: 'qwen3:0.6b', max_tokens: 16, messages: [{ role: 'user', content: `cpu peer ${i}` }] });
    if (res.status !== 200) throw new Error(`peer cpu: ${peer.name} answered ${res.status}`);
    await res.arrayBuffer();
  });
  return { n, concurrency, msPerRequest: round(cpuDelta(before, cpuMs({ peer: pid })).peer / n) };
}
