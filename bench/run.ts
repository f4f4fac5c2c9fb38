import { mkdirSync, mkdtempSync, chmodSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createParser } from 'eventsource-parser';
import { launchStack } from '../workers/stack/launch.js';
import { ROOT } from '../workers/stack/processes.js';
import { generateTokens } from '../simulator/text.js';
import { Client, Connection } from '@temporalio/client';

// Side-by-side benchmark, one invocation: the same requests straight to the simulator (D) and through
// Genie (G), alternated so both see the same machine state. Reports what Genie adds.
// Usage: node --import tsx bench/run.ts [--rounds N]

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 0) || 60;
const TTFT_MS = 20;
const ITL_MS = 5;

interface Sample { ttft: number; gaps: number[]; total: number; chunks: number; complete: boolean }

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
}

async function streamOnce(url: string, key: string | null, body: { messages: Array<{ role: string; content: string }>; max_tokens: number }): Promise<Sample> {
  const expected = generateTokens(0, body.messages, body.max_tokens).tokens.length;
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(body),
  });
  let ttft = -1;
  let last = 0;
  const gaps: number[] = [];
  let chunks = 0;
  let complete = false;
  const parser = createParser({
    onEvent: (e) => {
      const now = performance.now();
      if (e.data === '[DONE]') return void (complete = true);
      const c = JSON.parse(e.data);
      if (c.choices?.[0]?.delta?.content) {
        chunks++;
        if (ttft < 0) ttft = now - t0;
        else gaps.push(now - last);
        last = now;
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(part, { stream: true }));
  return { ttft, gaps, total: performance.now() - t0, chunks, complete: complete && chunks === expected };
}

async function syncOnce(url: string, key: string | null, body: unknown): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) }, body: JSON.stringify(body) });
  await res.json();
  if (res.status !== 200) throw new Error(`sync answered ${res.status}`);
  return performance.now() - t0;
}

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-bench-'));
chmodSync(dataDir, 0o777);
const stack = await launchStack({
  dataDir,
  freePorts: true,
  ports: { api: 0, temporal: 0, ui: 0, postgres: 0, vllm: 0 },
  simulator: { ttftMs: TTFT_MS, itlMs: ITL_MS },
  env: { GENIE_LOG_LEVEL: 'warn' },
  log: () => undefined,
});
try {
  const direct = `${stack.nodes.split('=')[1]}/v1/chat/completions`;
  const genie = `${stack.apiUrl}/v1/chat/completions`;
  const body = (i: number, stream: boolean) => ({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: `bench ${i}` }], max_tokens: 16, stream });

  // Warm-up: connections, JIT, workflow cache.
  for (let i = 0; i < 10; i++) {
    await streamOnce(direct, null, body(i, true));
    await streamOnce(genie, stack.apiKey, body(i, true));
  }
  const D: Sample[] = [];
  const G: Sample[] = [];
  const Ds: number[] = [];
  const Gs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Alternate which target goes first, so neither always meets a warmer machine.
    if (i % 2) {
      D.push(await streamOnce(direct, null, body(i, true)));
      G.push(await streamOnce(genie, stack.apiKey, body(i, true)));
      Ds.push(await syncOnce(direct, null, body(i, false)));
      Gs.push(await syncOnce(genie, stack.apiKey, body(i, false)));
    } else {
      G.push(await streamOnce(genie, stack.apiKey, body(i, true)));
      D.push(await streamOnce(direct, null, body(i, true)));
      Gs.push(await syncOnce(genie, stack.apiKey, body(i, false)));
      Ds.push(await syncOnce(direct, null, body(i, false)));
    }
  }
  const summary = (xs: Sample[]) => ({
    ttftP50: pct(xs.map((x) => x.ttft), 50),
    ttftP99: pct(xs.map((x) => x.ttft), 99),
    gapP50: pct(xs.flatMap((x) => x.gaps), 50),
    gapP99: pct(xs.flatMap((x) => x.gaps), 99),
    completeFraction: xs.filter((x) => x.complete).length / xs.length,
  });
  const d = summary(D);
  const g = summary(G);
  // Every Genie request must have been a real workflow: count them in Temporal.
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const count = await new Client({ connection, namespace: stack.namespace }).workflow.count(`WorkflowType = "chatCompletion"`);
  await connection.close();
  const sent = 20 + rounds * 2 - 10; // warm-up streams (10) + measured streams and syncs
  const result = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    settings: { rounds, simulator: { ttftMs: TTFT_MS, itlMs: ITL_MS, maxTokens: 16 } },
    stream: { direct: d, genie: g, addedTtftP50: +(g.ttftP50 - d.ttftP50).toFixed(2), addedTtftP99: +(g.ttftP99 - d.ttftP99).toFixed(2) },
    sync: {
      directP50: pct(Ds, 50), directP99: pct(Ds, 99), genieP50: pct(Gs, 50), genieP99: pct(Gs, 99),
      addedP50: +(pct(Gs, 50) - pct(Ds, 50)).toFixed(2), addedP99: +(pct(Gs, 99) - pct(Ds, 99)).toFixed(2),
    },
    workflows: { started: count.count, genieRequests: sent },
  };
  if (count.count < sent) throw new Error(`only ${count.count} workflows for ${sent} Genie requests`);
  const outDir = path.join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  copyFileSync(file, path.join(outDir, 'latest.json'));
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
