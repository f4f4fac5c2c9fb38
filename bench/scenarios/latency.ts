import { createParser } from 'eventsource-parser';
import { generateTokens } from '../../simulator/text.js';
import { pct, round } from '../stats.js';
import { post, type ChatBody, type Target } from '../target.js';

// Scenarios (a) and (c): one request at a time; in every round each target gets the same requests,
// in a rotated order, so none always meets a warmer or colder machine. Temporal's floor for the sync
// shape (b) takes its turn in the same rotation, so Genie's ratio to it compares the same minutes.

interface Added { syncP50: number; syncP99: number; ttftP50: number; ttftP99: number; gapP50: number }
/** `sentAt`: when the request went out, in ms since the epoch (`performance.timeOrigin`-based, comparable across processes). */
interface StreamSample { ttft: number; gaps: number[]; complete: boolean; sentAt: number }

async function streamOnce(t: Target, body: ChatBody): Promise<StreamSample> {
  const expected = generateTokens(0, body.messages, body.max_tokens).tokens.length;
  const t0 = performance.now();
  const res = await post(t, { ...body, stream: true });
  let ttft = -1;
  let last = 0;
  const gaps: number[] = [];
  let chunks = 0;
  let done = false;
  const parser = createParser({
    onEvent: (e) => {
      const now = performance.now();
      if (e.data === '[DONE]') return void (done = true);
      if (JSON.parse(e.data).choices?.[0]?.delta?.content) {
        chunks++;
        if (ttft < 0) ttft = now - t0;
        else gaps.push(now - last);
        last = now;
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(part, { stream: true }));
  return { ttft, gaps, complete: done && chunks === expected, sentAt: performance.timeOrigin + t0 };
}

async function syncOnce(t: Target, body: ChatBody): Promise<number> {
  const t0 = performance.now();
  const res = await post(t, body);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${t.name} sync answered ${res.status}`);
  return performance.now() - t0;
}

/**
 * `n` sequential starts → generate of shape (b), in ms, from a process placed as the API is
 * (floor-cpu.ts). `moveOn`: each next start goes once generate ran, as Genie's callers, answered by
 * `generateHere` before their workflow completes, send their next request while it closes; otherwise
 * each start waits for the previous workflow's result, and meets a server with nothing else to do.
 */
export type FloorProbe = (n: number, moveOn: boolean) => Promise<number[]>;

export async function latencyScenario(targets: Target[], rounds: number, perRound: number, floor?: FloorProbe) {
  const body = (i: number): ChatBody => ({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: `bench ${i}` }], max_tokens: 16 });
  for (const t of targets) for (let i = 0; i < 5; i++) await syncOnce(t, body(i)).then(() => streamOnce(t, body(i))); // warm-up
  const sync = new Map(targets.map((t) => [t.name, [] as number[]]));
  const stream = new Map(targets.map((t) => [t.name, [] as StreamSample[]]));
  const toGenerate: number[] = [];
  const toGenerateQuiet: number[] = [];
  if (floor) await floor(5, true); // warm-up
  const turns: Array<Target | 'floor'> = floor ? [...targets, 'floor'] : targets;
  for (let r = 0; r < rounds; r++) {
    const order = turns.map((_, i) => turns[(i + r) % turns.length]);
    for (const t of order) {
      // Two samples per request pair of a target: as many as a sync and a stream each, back to back as
      // Genie's are; then as many again with each workflow closed before the next start, for reference.
      if (t === 'floor') {
        toGenerate.push(...(await floor!(2 * perRound, true)));
        for (let i = 0; i < 2 * perRound; i++) toGenerateQuiet.push(...(await floor!(1, false)));
        continue;
      }
      for (let i = 0; i < perRound; i++) {
        sync.get(t.name)!.push(await syncOnce(t, body(r * perRound + i)));
        stream.get(t.name)!.push(await streamOnce(t, body(r * perRound + i)));
      }
    }
  }
  const figures = Object.fromEntries(
    targets.map((t) => {
      const s = stream.get(t.name)!;
      const y = sync.get(t.name)!;
      return [
        t.name,
        {
          syncP50: pct(y, 50),
          syncP99: pct(y, 99),
          ttftP50: pct(s.map((x) => x.ttft), 50),
          ttftP99: pct(s.map((x) => x.ttft), 99),
          gapP50: pct(s.flatMap((x) => x.gaps), 50),
          gapP99: pct(s.flatMap((x) => x.gaps), 99),
          streamCompleteFraction: s.filter((x) => x.complete).length / s.length,
        },
      ];
    }),
  ) as Record<Target['name'], { syncP50: number; syncP99: number; ttftP50: number; ttftP99: number; gapP50: number; gapP99: number; streamCompleteFraction: number }>;
  const added = (name: Target['name'], key: 'syncP50' | 'syncP99' | 'ttftP50' | 'ttftP99' | 'gapP50') => round(figures[name][key] - figures.direct[key]);
  return {
    rounds,
    perRound,
    genieRequests: targets.some((t) => t.name === 'genie') ? 10 + 2 * rounds * perRound : 0,
    figures,
    /** Every stream's sample per target, warm-up excluded, in the order sent (bench/ttft-trace.ts matches them to its marks). */
    streams: Object.fromEntries(stream) as Record<Target['name'], StreamSample[]>,
    /**
     * Shape (b)'s start → generate, sampled in the same rounds (null when no probe was given): back to
     * back as Genie's callers send (the floor of their added latency), and each start on a quiet server.
     */
    floor: floor
      ? { samples: toGenerate.length, toGenerateP50: pct(toGenerate, 50), toGenerateP99: pct(toGenerate, 99), quietToGenerateP50: pct(toGenerateQuiet, 50), quietToGenerateP99: pct(toGenerateQuiet, 99) }
      : null,
    added: Object.fromEntries(
      targets.filter((t) => t.name !== 'direct').map((t) => [t.name, { syncP50: added(t.name, 'syncP50'), syncP99: added(t.name, 'syncP99'), ttftP50: added(t.name, 'ttftP50'), ttftP99: added(t.name, 'ttftP99'), gapP50: added(t.name, 'gapP50') }]),
    ) as Record<'portkey' | 'genie', Added> & Partial<Record<'designFloor', Added>>,
  };
}
