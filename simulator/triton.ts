import { setTimeout as sleep } from 'node:timers/promises';
import type { Express, Request, Response } from 'express';
import { generateTokens } from './text.js';
import type { SimulatorOptions } from './options.js';
import { flowing, stall } from './flow.js';

/** What the Triton routes share with the rest of the simulator. */
export interface TritonContext {
  opts: SimulatorOptions;
  served: Set<string>;
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
  pickFailure(): 'server_error' | 'mid_stream' | 'invalid_json' | null;
  metrics: { received(model: string): void; success(model: string): void; failure(model: string): void; aborted(model: string): void; tokenSent(model: string): void };
}

/**
 * The inputs of a model shaped like TensorRT-LLM's `ensemble` (what `GET /v2/models/{m}/config`
 * reports): `max_tokens` is required, the rest optional.
 */
const TRTLLM_INPUTS: Array<{ name: string; data_type: string; dims: number[]; optional?: boolean }> = [
  { name: 'text_input', data_type: 'TYPE_STRING', dims: [1] },
  { name: 'max_tokens', data_type: 'TYPE_INT32', dims: [1] },
  { name: 'bad_words', data_type: 'TYPE_STRING', dims: [-1], optional: true },
  { name: 'stop_words', data_type: 'TYPE_STRING', dims: [-1], optional: true },
  { name: 'end_id', data_type: 'TYPE_INT32', dims: [1], optional: true },
  { name: 'pad_id', data_type: 'TYPE_INT32', dims: [1], optional: true },
  { name: 'temperature', data_type: 'TYPE_FP32', dims: [1], optional: true },
  { name: 'top_p', data_type: 'TYPE_FP32', dims: [1], optional: true },
  { name: 'random_seed', data_type: 'TYPE_UINT64', dims: [1], optional: true },
  { name: 'stream', data_type: 'TYPE_BOOL', dims: [1], optional: true },
];
const INPUT_NAMES = new Set(TRTLLM_INPUTS.map((i) => i.name));
const UINT64_LIMIT = 2 ** 64;

/**
 * The model name in a request path, as Triton matches it: raw, never percent-decoded
 * (`/v2/models/qwen3%3A8b/…` names a model called `qwen3%3A8b`).
 */
function rawModel(req: Request): string {
  return req.originalUrl.split('?')[0].split('/')[3] ?? '';
}

/**
 * NVIDIA Triton's HTTP surface as real Triton 2.51 answers it (learned against the real server):
 * - model names matched on the raw path; unknown or unloaded models 404 `{"error": …}`;
 * - strict readiness: `/v2/health/ready` is 400 while any model failed to load, per-model readiness
 *   and the repository index tell which (`UNAVAILABLE` with its reason);
 * - generate request keys and `parameters` named like an input become that input; other parameters
 *   must be scalars (a list is a 400); a UINT64 `random_seed` out of range is a 500;
 * - every failure of a `generate_stream` before its first response is HTTP 400 with an SSE body
 *   `data: {"error": "…"}`; after it, an `{"error": …}` event under the 200;
 * - Prometheus metrics on their own port (see server.ts).
 */
export function mountTriton(app: Express, ctx: TritonContext): void {
  const { opts, served } = ctx;
  const loaded = (m: string) => served.has(m) && !opts.failLoadModel.includes(m);
  app.get('/v2/health/live', (_req, res) => void res.status(200).end());
  app.get('/v2/health/ready', (_req, res) => void res.status(opts.models.every(loaded) ? 200 : 400).end());
  // Triton's own quirk, kept: this JSON error comes as text/plain.
  app.get(/^\/v2\/models\/[^/]+\/ready$/, (req, res) =>
    void (loaded(rawModel(req)) ? res.status(200).end() : res.status(400).type('text/plain').send(JSON.stringify({ error: 'Model version not ready' }))),
  );
  app.get(/^\/v2\/models\/[^/]+\/config$/, (req, res) => {
    const model = rawModel(req);
    if (!loaded(model)) return void res.status(400).json({ error: `Request for unknown model: '${model}' is not found` });
    res.json({ name: model, platform: 'ensemble', max_batch_size: 0, input: TRTLLM_INPUTS, output: [{ name: 'text_output', data_type: 'TYPE_STRING', dims: [-1] }], model_transaction_policy: { decoupled: true } });
  });
  app.post('/v2/repository/index', (_req, res) =>
    void res.json(
      opts.models.map((name) =>
        loaded(name) ? { name, version: '1', state: 'READY' } : { name, version: '1', state: 'UNAVAILABLE', reason: `Internal: model failed to load: ${name}` },
      ),
    ),
  );

  const generate = (stream: boolean) => async (req: Request, res: Response) => {
    const model = rawModel(req);
    ctx.metrics.received(model);
    if (opts.hang) return;
    if (!loaded(model)) return void res.status(404).json({ error: served.has(model) ? `Request for unknown model: '${model}' has no available versions` : `Request for unknown model: '${model}' is not found` });
    const body = (req.body ?? {}) as Record<string, unknown>;
    const params = (body.parameters ?? {}) as Record<string, unknown>;
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && typeof value === 'object') {
        return void res.status(400).json({ error: `Converting keyword: 'parameters': parameter '${key}' has invalid type. It should be either 'int', 'bool', or 'string'.` });
      }
    }
    // Request keys and parameters named like an input are that input.
    const inputs: Record<string, unknown> = {};
    for (const [key, value] of [...Object.entries(params), ...Object.entries(body)]) if (INPUT_NAMES.has(key)) inputs[key] = value;
    const seed = inputs.random_seed;
    if (seed !== undefined && (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed >= UINT64_LIMIT)) {
      return void res.status(500).json({ error: "Converting keyword: 'parameters': Unable to parse 'data': attempt to access JSON non-unsigned-integer as unsigned-integer" });
    }
    // Failures inside the model, before its first response: 400 and the error as an SSE event.
    const refuse = (error: string) => {
      ctx.metrics.failure(model);
      if (!stream) return void res.status(400).json({ error });
      res.writeHead(400, { 'content-type': 'text/event-stream; charset=utf-8' });
      res.end(`data: ${JSON.stringify({ error })}\n\n`);
    };
    // Required inputs are Triton's own check (plain JSON), type errors its parser's (500).
    const missing = ['text_input', 'max_tokens'].filter((n) => inputs[n] === undefined);
    if (missing.length) return void res.status(400).json({ error: `[request id: <id_unknown>] expected between 2 and ${TRTLLM_INPUTS.length} inputs but got ${Object.keys(inputs).length} inputs for model '${model}'. Got input(s) ${JSON.stringify(Object.keys(inputs))}, but missing required input(s) ${JSON.stringify(missing)}` });
    if (typeof inputs.text_input !== 'string') return void res.status(500).json({ error: "Converting keyword: 'text_input': attempt to access JSON non-string as string" });
    if (typeof inputs.max_tokens !== 'number' || !Number.isInteger(inputs.max_tokens)) {
      return void res.status(500).json({ error: "Converting keyword: 'max_tokens': Unable to parse 'data': attempt to access JSON non-signed-integer as signed-integer" });
    }
    const failure = ctx.pickFailure();
    if (failure === 'server_error') return refuse('injected failure: server error');
    const stops = (Array.isArray(inputs.stop_words) ? inputs.stop_words : []).map(String);
    const gen = generateTokens(opts.seed + Number(seed ?? 0), [{ role: 'prompt', content: inputs.text_input }], inputs.max_tokens, opts);
    // TensorRT-LLM stops at a stop word and keeps it in the output.
    const at = gen.tokens.findIndex((t) => stops.includes(t.trim()));
    const tokens = at >= 0 ? gen.tokens.slice(0, at + 1) : gen.tokens;

    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        ac.abort();
        ctx.metrics.aborted(model);
      }
    });
    try {
      await ctx.acquire(ac.signal);
    } catch {
      return;
    }
    const failAt = failure === 'mid_stream' ? Math.floor(tokens.length / 2) : -1;
    try {
      if (opts.timeToFirstToken > 0) await sleep(opts.timeToFirstToken, undefined, { signal: ac.signal });
      if (!stream) {
        for (let i = 1; i < tokens.length && opts.interTokenLatency > 0; i++) await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        if (failAt >= 0) return refuse('injected failure: generation aborted mid-stream');
        res.json({ model_name: model, model_version: '1', text_output: tokens.join('') });
        ctx.metrics.success(model);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      for (let i = 0; i < tokens.length; i++) {
        if (i > 0 && opts.interTokenLatency > 0) await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        if (i === failAt) {
          ctx.metrics.failure(model);
          res.end(`data: ${JSON.stringify({ error: 'injected failure: generation aborted mid-stream' })}\n\n`);
          return;
        }
        if (i === opts.stallAfter) return await stall(ac.signal);
        const written = res.write(`data: ${JSON.stringify({ model_name: model, model_version: '1', text_output: tokens[i] })}\n\n`);
        ctx.metrics.tokenSent(model);
        await flowing(res, written, ac.signal);
      }
      res.end();
      ctx.metrics.success(model);
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      ctx.release();
    }
  };
  app.post(/^\/v2\/models\/[^/]+\/generate$/, generate(false));
  app.post(/^\/v2\/models\/[^/]+\/generate_stream$/, generate(true));
}
