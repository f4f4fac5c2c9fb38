import { createParser } from 'eventsource-parser';
import { generateTokens } from '../../simulator/text.js';
import { pct, round } from '../stats.js';

// Scenario (a)/(c): one request at a time, targets alternated, the same bodies to the simulator (D)
// and through Genie (G). Stream: time to first content delta, inter-chunk gaps, completeness.

interface Target { url: string; key: string | null }
interface StreamSample { ttft: number; gaps: number[]; complete: boolean }
type Body = { model: string; messages: Array<{ role: string; content: string }>; max_tokens: number; stream: boolean };

const headers = (t: Target) => ({ 'content-type': 'application/json', ...(t.key ? { authorization: `Bearer ${t.key}` } : {}) });

async function streamOnce(t: Target, body: Body): Promise<StreamSample> {
  const expected = generateTokens(0, body.messages, body.max_tokens).tokens.length;
  const t0 = performance.now();
  const res = await fetch(t.url, { method: 'POST', headers: headers(t), body: JSON.stringify(body) });
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
  return { ttft, gaps, complete: done && chunks === expected };
}

async function syncOnce(t: Target, body: Body): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(t.url, { method: 'POST', headers: headers(t), body: JSON.stringify(body) });
  await res.json();
  if (res.status !== 200) throw new Error(`sync answered ${res.status}`);
  return performance.now() - t0;
}

export async function latencyScenario(direct: Target, genie: Target, rounds: number) {
  const body = (i: number, stream: boolean): Body => ({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: `bench ${i}` }], max_tokens: 16, stream });
  for (let i = 0; i < 10; i++) {
    await streamOnce(direct, body(i, true));
    await streamOnce(genie, body(i, true));
    await syncOnce(genie, body(i, false));
  }
  const D: StreamSample[] = [];
  const G: StreamSample[] = [];
  const Ds: number[] = [];
  const Gs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which target goes first, so neither always meets a warmer machine.
    const pair = [
      async () => {
        D.push(await streamOnce(direct, body(i, true)));
        Ds.push(await syncOnce(direct, body(i, false)));
      },
      async () => {
        G.push(await streamOnce(genie, body(i, true)));
        Gs.push(await syncOnce(genie, body(i, false)));
      },
    ];
    if (i % 2) pair.reverse();
    for (const run of pair) await run();
  }
  const summary = (xs: StreamSample[]) => ({
    ttftP50: pct(xs.map((x) => x.ttft), 50),
    ttftP99: pct(xs.map((x) => x.ttft), 99),
    gapP50: pct(xs.flatMap((x) => x.gaps), 50),
    gapP99: pct(xs.flatMap((x) => x.gaps), 99),
    completeFraction: xs.filter((x) => x.complete).length / xs.length,
  });
  const d = summary(D);
  const g = summary(G);
  return {
    genieRequests: 20 + 2 * rounds,
    stream: { direct: d, genie: g, addedTtftP50: round(g.ttftP50 - d.ttftP50), addedTtftP99: round(g.ttftP99 - d.ttftP99), addedGapP50: round(g.gapP50 - d.gapP50) },
    sync: {
      directP50: pct(Ds, 50),
      directP99: pct(Ds, 99),
      genieP50: pct(Gs, 50),
      genieP99: pct(Gs, 99),
      addedP50: round(pct(Gs, 50) - pct(Ds, 50)),
      addedP99: round(pct(Gs, 99) - pct(Ds, 99)),
    },
  };
}
