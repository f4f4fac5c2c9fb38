// Real Triton under load: metrics while streams are in flight, TensorRT-LLM's gauges, cancellation,
// keep-alive connections.
import http from 'node:http';
import net from 'node:net';
import { parseExposition, type Scrape } from '../support/prometheus.js';
import { brief, gen, metric, metrics, observed, post, startHarness, texts, triton, TRT, VLLM } from './triton-harness.js';

startHarness();

test('metrics while decoupled streams are in flight; cancellation', async () => {
  const names = (s: Scrape) => [...new Set(s.map((x) => x.name))];
  const watched = ['nv_inference_pending_request_count', 'nv_inference_request_success', 'nv_inference_count', 'nv_inference_exec_count', 'nv_inference_request_duration_us', 'nv_inference_queue_duration_us', 'nv_inference_compute_infer_duration_us'];
  const pick = (s: Scrape, model: string) => Object.fromEntries(watched.map((n) => [n, metric(s, n, model)]));
  const before = await metrics();
  observed.metricNames = names(before);
  const models = ['slow-trtllm', 'slow-vllm'];
  const started = Date.now();
  const streams = models.map((m) =>
    gen(m, m === 'slow-trtllm' ? { text_input: 'slow', parameters: { stream: true, max_tokens: 10 } } : { text_input: 'slow', parameters: { stream: true, sampling_parameters: '{"max_tokens":10}' } }),
  );
  const during: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 400));
    const s = await metrics();
    during.push({ atMs: Date.now() - started, ...Object.fromEntries(models.map((m) => [m, pick(s, m)])) });
  }
  const done = await Promise.all(streams);
  const elapsed = Date.now() - started;
  const after = await metrics();
  observed.metricsDuringStream = {
    before: Object.fromEntries(models.map((m) => [m, pick(before, m)])),
    during,
    after: Object.fromEntries(models.map((m) => [m, pick(after, m)])),
    streamMs: elapsed,
  };
  for (const d of done) expect(d.events).toHaveLength(10);
  expect(elapsed).toBeGreaterThan(1800);
  // A request's counters move when Triton releases it, which the Python backend does when execute()
  // returns: with a thread per request that is before the first token, not at the end of the stream.
  for (const m of models) expect(during[0]).toMatchObject({ [m]: { nv_inference_request_success: 1, nv_inference_pending_request_count: 0 } });

  // A model that generates inside execute(): two concurrent streams, the second queues in Triton.
  const inline = [0, 1].map((i) => gen('slow-inline', { text_input: `queued ${i}`, parameters: { stream: true, max_tokens: 5 } }));
  const inlineDuring: Array<Record<string, unknown>> = [];
  const t1 = Date.now();
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 350));
    inlineDuring.push({ atMs: Date.now() - t1, ...pick(await metrics(), 'slow-inline') });
  }
  const inlineDone = await Promise.all(inline);
  inlineDuring.push({ atMs: Date.now() - t1, ...pick(await metrics(), 'slow-inline') });
  observed.metricsInlineExecute = inlineDuring;
  for (const d of inlineDone) expect(d.events).toHaveLength(5);
  expect(inlineDuring[0]).toMatchObject({ nv_inference_pending_request_count: 1, nv_inference_request_success: 0 });

  // Cancellation: the client goes away after two tokens; the model sees is_cancelled() and stops.
  const ac = new AbortController();
  const res = await fetch(`${triton.url}/v2/models/slow-trtllm/generate_stream`, {
    method: 'POST',
    body: JSON.stringify({ text_input: 'cancel me', parameters: { stream: true, max_tokens: 50 } }),
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  let seen = '';
  while ((seen.match(/data: /g) ?? []).length < 2) seen += new TextDecoder().decode((await reader.read()).value);
  ac.abort();
  await new Promise((r) => setTimeout(r, 1500));
  const cancelled = await metrics();
  observed.afterCancel = {
    success: metric(cancelled, 'nv_inference_request_success', 'slow-trtllm'),
    failure: Object.fromEntries(['BACKEND', 'CANCELED', 'REJECTED', 'OTHER'].map((r) => [r, metric(cancelled, 'nv_inference_request_failure', 'slow-trtllm', { reason: r })])),
    log: triton.logs().filter((l) => /cancel/i.test(l)).slice(-5),
  };
  expect(triton.logs().some((l) => /trtllm test model: request cancelled after \d+ tokens/.test(l))).toBe(true);
});

test('TensorRT-LLM custom gauges: nv_trt_llm_request_metrics active follows a stream in flight', async () => {
  const M = 'slow-trtllm';
  const ours = (text: string) => text.split('\n').filter((l) => /^nv_trt_llm_\w+\{/.test(l) && l.includes(`model="${M}"`));
  const rawMetrics = async () => (await fetch(`${triton.metricsUrl}/metrics`)).text();
  const active = (s: Scrape) => metric(s, 'nv_trt_llm_request_metrics', M, { request_type: 'active' });
  // Polls the metrics port until `ok` holds (no fixed sleeps to wait on the condition).
  const until = async (ok: (s: Scrape) => boolean, what: string, ms = 20_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = await rawMetrics();
      const s = parseExposition(text);
      if (ok(s)) return { s, text };
      if (Date.now() > deadline) throw new Error(`metrics never showed ${what}:\n${ours(text).join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until((s) => active(s) === 0, 'active 0 before the stream'); // earlier streams (the cancelled one) gone
  let ended = false;
  const stream = gen(M, { text_input: 'gauge me', parameters: { stream: true, max_tokens: 15 } }).finally(() => (ended = true));
  // The model sets its gauges one by one (fraction last): a scrape between two sets sees half an
  // update, so wait for the last one before reading the whole set.
  const fraction = (s: Scrape) => metric(s, 'nv_trt_llm_kv_cache_block_metrics', M, { kv_cache_block_type: 'fraction' });
  const during = await until((s) => active(s) === 1 && fraction(s) === 1 / 64, 'active 1 during the stream');
  const inFlight = !ended;
  const done = await stream;
  const after = await until((s) => active(s) === 0 && fraction(s) === 0, 'active 0 after the stream');
  observed.trtllmGauges = { during: ours(during.text), after: ours(after.text) };
  expect(inFlight).toBe(true);
  expect(done.events).toHaveLength(15);
  const series = during.s.filter((x) => x.name === 'nv_trt_llm_request_metrics' && x.labels.model === M);
  expect(series.map((x) => x.labels).sort((a, b) => a.request_type.localeCompare(b.request_type))).toEqual(
    ['active', 'context', 'max', 'scheduled', 'waiting'].map((request_type) => ({ model: M, request_type, version: '1' })),
  );
  expect(ours(during.text)).toContain(`nv_trt_llm_request_metrics{model="${M}",request_type="active",version="1"} 1`);
  const req = (s: Scrape, t: string) => metric(s, 'nv_trt_llm_request_metrics', M, { request_type: t });
  const kv = (s: Scrape, t: string) => metric(s, 'nv_trt_llm_kv_cache_block_metrics', M, { kv_cache_block_type: t });
  expect(['active', 'scheduled', 'waiting', 'context', 'max'].map((t) => req(during.s, t))).toEqual([1, 1, 0, 0, 64]);
  expect(['used', 'free', 'max', 'fraction'].map((t) => kv(during.s, t))).toEqual([1, 63, 64, 1 / 64]);
  expect(['active', 'scheduled', 'max'].map((t) => req(after.s, t))).toEqual([0, 0, 64]);
  expect(['used', 'free', 'fraction'].map((t) => kv(after.s, t))).toEqual([0, 64, 0]);
});

test('keep-alive connections are reused after streams, errors and mid-stream errors', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const one = (path: string, body: unknown) =>
    new Promise<{ status: number; reused: boolean; body: string }>((resolve, reject) => {
      const req = http.request(`${triton.url}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket, body: text }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body));
    });
  const seq = [
    await one(`/v2/models/${TRT}/generate_stream`, { text_input: 'a', parameters: { stream: true, max_tokens: 2 } }),
    await one(`/v2/models/${TRT}/generate_stream`, { text_input: '#error', parameters: { stream: true, max_tokens: 2 } }),
    await one(`/v2/models/${TRT}/generate_stream`, { text_input: '#fail-after:1 a', parameters: { stream: true, max_tokens: 2 } }),
    await one(`/v2/models/${TRT}/generate_stream`, { text_input: 'a', parameters: { stream: true, max_tokens: 2, stop: ['x'] } }),
    await one('/v2/models/nope/generate_stream', { text_input: 'a' }),
    await one(`/v2/models/${TRT}/generate_stream`, { text_input: 'a', parameters: { stream: true, max_tokens: 2 } }),
  ];
  agent.destroy();
  observed.connectionReuse = seq.map(({ status, reused }) => ({ status, reused }));
  expect(seq.map((r) => r.status)).toEqual([200, 400, 200, 400, 404, 200]);
  expect(seq.slice(1).every((r) => r.reused)).toBe(true);
});

test('idle keep-alive connections', async () => {
  // One request on a raw socket, then nothing: does the server close the idle connection?
  const sock = net.connect(Number(new URL(triton.url).port), '127.0.0.1');
  const t0 = Date.now();
  const closed = new Promise<number>((resolve) => sock.once('close', () => resolve(Date.now() - t0)));
  let head = '';
  sock.on('data', (d) => (head += d.toString()));
  sock.write('GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  const limit = Number(process.env.GENIE_TRITON_IDLE_PROBE_MS ?? 30_000);
  const result = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), limit))]);
  observed.keepAlive = { response: head.split('\r\n')[0], closedAfterMs: result, watchedMs: limit };
  sock.destroy();
  expect(head).toMatch(/^HTTP\/1\.1 200/);
}, 200_000);
