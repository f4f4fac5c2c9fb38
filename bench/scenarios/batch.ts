import { pct, round } from '../stats.js';

// Scenario (j): the Batch API end to end — a JSONL upload, a batch of `lines` completions, polled to
// `completed` — as lines per second; and what a running batch costs interactive callers: sync p99 at
// concurrency 4 with the batch running, as a ratio to the same load without it (same invocation). The
// load without the batch runs half before it and half after, so a machine that drifts (a shared host)
// weighs on both sides alike.

interface Genie {
  apiUrl: string;
  apiKey: string;
}

async function syncLoad(genie: Genie, requests: number, concurrency: number, until?: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests && (until ? !until() : true)) {
        const i = next++;
        const start = performance.now();
        const res = await fetch(`${genie.apiUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${genie.apiKey}` },
          body: JSON.stringify({ model: 'qwen3:0.6b', max_tokens: 16, messages: [{ role: 'user', content: `interactive ${i}` }] }),
        });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`sync answered ${res.status}`);
        ms.push(performance.now() - start);
      }
    }),
  );
  return ms;
}

async function call<T>(genie: Genie, path: string, init: RequestInit = {}): Promise<T> {
  const res = await fetch(`${genie.apiUrl}${path}`, { ...init, headers: { authorization: `Bearer ${genie.apiKey}`, ...(init.headers ?? {}) } });
  const body = (await res.json()) as T;
  if (res.status >= 300) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

export async function batchScenario(genie: Genie, lines: number, interactive: number) {
  const before = await syncLoad(genie, Math.ceil(interactive / 2), 4);

  const jsonl = Array.from({ length: lines }, (_, i) =>
    JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'qwen3:0.6b', max_tokens: 16, messages: [{ role: 'user', content: `batch line ${i}` }] } }),
  ).join('\n');
  const form = new FormData();
  form.append('purpose', 'batch');
  form.append('file', new Blob([jsonl], { type: 'application/jsonl' }), 'bench.jsonl');
  const file = await call<{ id: string }>(genie, '/v1/files', { method: 'POST', body: form });
  const t0 = performance.now();
  const created = await call<{ id: string }>(genie, '/v1/batches', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
  });
  let done = false;
  let batch: { status: string; request_counts: { total: number; completed: number; failed: number } } | undefined;
  const poll = (async () => {
    for (;;) {
      batch = await call(genie, `/v1/batches/${created.id}`);
      if (['completed', 'failed', 'cancelled', 'expired'].includes(batch!.status)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    done = true;
  })();
  // The same interactive load while the batch runs (stopping when it ends, so the figure is "during").
  const during = await syncLoad(genie, interactive, 4, () => done);
  // How far the batch got while interactive callers were served (interactive first: not far).
  const atInteractiveEnd = done ? batch!.request_counts : (await call<typeof batch>(genie, `/v1/batches/${created.id}`))!.request_counts;
  const interactiveSeconds = (performance.now() - t0) / 1000;
  await poll;
  const seconds = (performance.now() - t0) / 1000;
  const alone = [...before, ...(await syncLoad(genie, Math.floor(interactive / 2), 4))];
  if (batch!.status !== 'completed' || batch!.request_counts.completed !== lines) throw new Error(`batch ended ${JSON.stringify(batch)}`);
  return {
    lines,
    seconds: round(seconds),
    linesPerSecond: round(lines / seconds),
    // Lines finished per second while the interactive load ran beside the batch.
    linesPerSecondDuringInteractive: round((atInteractiveEnd.completed + atInteractiveEnd.failed) / interactiveSeconds),
    interactive: {
      alone: { requests: alone.length, p50: pct(alone, 50), p99: pct(alone, 99) },
      duringBatch: { requests: during.length, p50: pct(during, 50), p99: pct(during, 99) },
    },
    syncP99DuringBatchOverAlone: round(pct(during, 99) / pct(alone, 99)),
    syncP50DuringBatchOverAlone: round(pct(during, 50) / pct(alone, 50)),
    genieRequests: alone.length + during.length,
  };
}
