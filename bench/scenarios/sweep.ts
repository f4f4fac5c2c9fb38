import { pct, round } from '../stats.js';
import { post, type Target } from '../target.js';
import { sampleMemory, type MemorySample } from '../memory.js';

// Scenario (b): open-loop load at rising rates (requests are sent on schedule whether or not earlier
// ones finished, so queueing shows up as latency). A target's throughput is the highest offered rate
// whose p99 stays ≤ 100 ms with no errors. The node answers in ~20 ms (TTFT 20 ms, one token). Each
// rate runs `seconds` or 100 requests, whichever is longer: a p99 of fewer samples is their maximum,
// and one hiccup of a busy machine at 5 req/s (10 requests) read as "holds no rate at all".
const MIN_SAMPLES = 100;

export interface SweepPoint { rate: number; p50: number; p99: number; errors: number; achieved: number }

async function step(t: Target, rate: number, seconds: number): Promise<SweepPoint> {
  const total = Math.max(MIN_SAMPLES, Math.round(rate * seconds));
  const lat: number[] = [];
  let errors = 0;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      (async () => {
        const s = performance.now();
        try {
          const res = await post(t, { model: 'qwen3:0.6b', max_tokens: 1, messages: [{ role: 'user', content: `sweep ${rate} ${i}` }] });
          await res.arrayBuffer();
          if (res.status !== 200) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - s);
      })(),
    );
  }
  await Promise.all(inflight);
  return { rate, p50: pct(lat, 50), p99: pct(lat, 99), errors, achieved: round(total / ((performance.now() - t0) / 1000)) };
}

export async function sweepScenario(targets: Target[], rates: number[], seconds: number) {
  const curves: Record<string, SweepPoint[]> = {};
  const best: Record<string, number> = {};
  const memoryUnderLoad: Record<string, MemorySample> = {};
  let genieRequests = 0;
  for (const t of targets) {
    curves[t.name] = [];
    best[t.name] = 0;
    for (const rate of rates) {
      const sampling = sampleMemory(t.pids, seconds * 500);
      const point = await step(t, rate, seconds);
      memoryUnderLoad[t.name] = await sampling;
      if (t.name === 'genie') genieRequests += Math.max(MIN_SAMPLES, Math.round(rate * seconds));
      curves[t.name].push(point);
      if (point.p99 <= 100 && point.errors === 0) best[t.name] = rate;
      else break; // past the knee: higher rates only queue more
    }
  }
  return { seconds, rates, curves, throughputAtP99Under100ms: best, memoryUnderLoad, genieRequests };
}
