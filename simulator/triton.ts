import { setTimeout as sleep } from 'node:timers/promises';
import type { Express, Request, Response } from 'express';
import { generateTokens } from './text.js';
import type { SimulatorOptions } from './options.js';

/** What the Triton routes share with the rest of the simulator. */
export interface TritonContext {
  opts: SimulatorOptions;
  served: Set<string>;
  acquire(signal: AbortSignal): Promise<void>;
  release(): void;
  pickFailure(): 'server_error' | 'mid_stream' | 'invalid_json' | null;
  metrics: { received(model: string): void; success(model: string): void; failure(model: string): void; aborted(model: string): void };
}

const tritonError = (res: Response, status: number, error: string) => void res.status(status).json({ error });

/**
 * NVIDIA Triton's HTTP surface as Genie uses it: KServe v2 health, the repository index, and the
 * generate extension (`generate`, `generate_stream`), TensorRT-LLM style parameters. Mid-stream errors
 * are reported as an `{"error": …}` event under HTTP 200, as Triton does.
 */
export function mountTriton(app: Express, ctx: TritonContext): void {
  const { opts, served } = ctx;
  app.get('/v2/health/ready', (_req, res) => void res.status(200).end());
  app.get('/v2/health/live', (_req, res) => void res.status(200).end());
  app.get('/v2/models/:model/ready', (req, res) => void res.status(served.has(req.params.model) && !opts.failLoadModel.includes(req.params.model) ? 200 : 400).end());
  app.post('/v2/repository/index', (_req, res) => void res.json(opts.models.map((name) => ({ name, version: '1', state: 'READY' }))));

  const generate = (stream: boolean) => async (req: Request, res: Response) => {
    const model = String(req.params.model);
    ctx.metrics.received(model);
    if (opts.hang) return;
    if (!served.has(model)) return tritonError(res, 400, `Request for unknown model: '${model}' is not found`);
    if (opts.failLoadModel.includes(model)) return tritonError(res, 500, `model failed to load: ${model}`);
    const textInput = req.body?.text_input;
    if (typeof textInput !== 'string') return tritonError(res, 400, 'text_input is required');
    const params = (req.body?.parameters ?? {}) as Record<string, unknown>;
    const failure = ctx.pickFailure();
    if (failure === 'server_error') {
      ctx.metrics.failure(model);
      return tritonError(res, 500, 'injected failure: server error');
    }
    const seed = opts.seed + (Number.isInteger(params.random_seed) ? (params.random_seed as number) : 0);
    const maxTokens = typeof params.max_tokens === 'number' ? params.max_tokens : null;
    const gen = generateTokens(seed, [{ role: 'prompt', content: textInput }], maxTokens);

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
    const failAt = failure === 'mid_stream' ? Math.floor(gen.tokens.length / 2) : -1;
    try {
      if (opts.timeToFirstToken > 0) await sleep(opts.timeToFirstToken, undefined, { signal: ac.signal });
      if (!stream) {
        for (let i = 1; i < gen.tokens.length && opts.interTokenLatency > 0; i++) await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        if (failAt >= 0) {
          ctx.metrics.failure(model);
          return tritonError(res, 500, 'injected failure: generation aborted mid-stream');
        }
        res.json({ model_name: model, model_version: '1', text_output: gen.tokens.join('') });
        ctx.metrics.success(model);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (let i = 0; i < gen.tokens.length; i++) {
        if (i > 0 && opts.interTokenLatency > 0) await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        if (i === failAt) {
          ctx.metrics.failure(model);
          res.end(`data: ${JSON.stringify({ error: 'injected failure: generation aborted mid-stream' })}\n\n`);
          return;
        }
        res.write(`data: ${JSON.stringify({ model_name: model, model_version: '1', text_output: gen.tokens[i] })}\n\n`);
      }
      res.end();
      ctx.metrics.success(model);
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      ctx.release();
    }
  };
  app.post('/v2/models/:model/generate', generate(false));
  app.post('/v2/models/:model/generate_stream', generate(true));
}
