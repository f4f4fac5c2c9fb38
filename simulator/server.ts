import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Request, type Response } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import type { PromptMessage } from './text.js';
import { countPromptTokens } from './prompt-tokens.js';
import { planResponse } from './plan.js';
import { simulatorOptionsSchema, type SimulatorFlags, type SimulatorOptions } from './options.js';
import { mountTriton } from './triton.js';
import { flowing, stall } from './flow.js';

// A GPU-free node speaking vLLM's OpenAI-compatible API or Triton's KServe v2 generate extension,
// modelled on llm-d-inference-sim.

export interface Simulator {
  url: string;
  port: number;
  /** Where its Prometheus metrics are: `<url>/metrics` for vLLM, a port of their own for Triton. */
  metricsUrl: string;
  options: SimulatorOptions;
  close(): Promise<void>;
}

class Slots {
  private running = 0;
  private readonly queue: Array<() => void> = [];
  constructor(private readonly max: number) {}
  get inUse(): number {
    return this.running;
  }
  get waiting(): number {
    return this.queue.length;
  }
  async acquire(signal: AbortSignal): Promise<void> {
    if (this.running < this.max) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        resolve();
      };
      const onAbort = () => {
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        reject(new Error('aborted while waiting'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(grant);
    });
  }
  release(): void {
    this.running--;
    this.queue.shift()?.();
  }
}

function vllmError(res: Response, status: number, message: string, type: string, param: string | null = null): void {
  res.status(status).json({ error: { message, type, param, code: status } });
}

export async function startSimulator(flags: SimulatorFlags = {}): Promise<Simulator> {
  const opts = simulatorOptionsSchema.parse(flags);
  const slots = new Slots(opts.maxNumSeqs);
  const served = new Set(opts.models);
  const created = Math.floor(Date.now() / 1000);

  const registry = new Registry();
  // One series per engine, as vLLM publishes them (`engine="0"`, labelled with the served model).
  const labels = ['model_name', 'engine'] as const;
  const running = new Gauge({ name: 'vllm:num_requests_running', help: 'Requests in model execution', labelNames: labels, registers: [registry] });
  const waiting = new Gauge({ name: 'vllm:num_requests_waiting', help: 'Requests waiting', labelNames: labels, registers: [registry] });
  const kvUsage = new Gauge({ name: 'vllm:kv_cache_usage_perc', help: 'KV-cache usage, 1 = 100%', labelNames: labels, registers: [registry] });
  const success = new Counter({ name: 'vllm:request_success_total', help: 'Finished requests', labelNames: [...labels, 'finished_reason'], registers: [registry] });
  const aborted = new Counter({ name: 'genie_sim_requests_aborted_total', help: 'Requests whose client went away before the end', labelNames: labels, registers: [registry] });
  const received = new Counter({ name: 'genie_sim_requests_received_total', help: 'Chat requests received', labelNames: labels, registers: [registry] });
  const tokensSent = new Counter({ name: 'genie_sim_tokens_sent_total', help: 'Tokens of streamed answers written to their sockets (a reader that stops reading stops it)', labelNames: labels, registers: [registry] });
  const tritonSuccess = new Counter({ name: 'nv_inference_request_success', help: 'Triton: successful inference requests', labelNames: ['model'], registers: [] });
  const tritonFailure = new Counter({ name: 'nv_inference_request_failure', help: 'Triton: failed inference requests', labelNames: ['model'], registers: [] });
  const tritonPending = new Gauge({ name: 'nv_inference_pending_request_count', help: 'Triton: requests waiting', labelNames: ['model'], registers: [] });
  // Triton's pending count stays 0 for decoupled (streaming) models: TensorRT-LLM's backend publishes
  // its own request gauges, which do move.
  const trtllmRequests = new Gauge({ name: 'nv_trt_llm_request_metrics', help: 'TensorRT-LLM: requests by state', labelNames: ['model', 'request_type', 'version'], registers: [] });
  if (opts.engine === 'triton') [tritonSuccess, tritonFailure, tritonPending, trtllmRequests].forEach((m) => registry.registerMetric(m));
  const engineLabels = { model_name: opts.models[0] ?? '', engine: '0' };

  const observeLoad = () => {
    if (opts.engine === 'triton') {
      for (const m of served) tritonPending.set({ model: m }, 0);
      trtllmRequests.set({ model: 'tensorrt_llm', request_type: 'active', version: '1' }, slots.inUse);
      trtllmRequests.set({ model: 'tensorrt_llm', request_type: 'waiting', version: '1' }, slots.waiting);
      trtllmRequests.set({ model: 'tensorrt_llm', request_type: 'max', version: '1' }, opts.maxNumSeqs);
      return;
    }
    running.set(engineLabels, slots.inUse);
    waiting.set(engineLabels, slots.waiting);
    kvUsage.set(engineLabels, slots.inUse / opts.maxNumSeqs);
  };

  const app = express();
  app.use(express.json({ limit: '8mb' }));

  const pickFailure = () =>
    Math.random() * 100 < opts.failureInjectionRate ? opts.failureTypes[Math.floor(Math.random() * opts.failureTypes.length)] : null;
  if (opts.engine === 'triton') {
    mountTriton(app, {
      opts,
      served,
      acquire: (signal) => slots.acquire(signal),
      release: () => slots.release(),
      pickFailure,
      metrics: {
        received: (m) => received.inc({ model_name: m }),
        success: (m) => tritonSuccess.inc({ model: m }),
        failure: (m) => tritonFailure.inc({ model: m }),
        aborted: (m) => aborted.inc({ model_name: m }),
        tokenSent: (m) => tokensSent.inc({ model_name: m }),
      },
    });
  }

  // A Triton node speaks no OpenAI API.
  if (opts.engine === 'triton') app.use('/v1', (_req, res) => void res.status(404).json({ error: 'not found' }));
  app.get('/health', (_req, res) => void res.status(200).end());
  app.get('/v1/models', (_req, res) => {
    res.json({
      object: 'list',
      data: opts.models.map((id) => ({ id, object: 'model', created, owned_by: 'genie-simulator', root: id, max_model_len: opts.maxModelLen })),
    });
  });
  const serveMetrics = async (_req: Request, res: Response) => {
    observeLoad();
    res.type(registry.contentType).send(await registry.metrics());
  };
  if (opts.engine === 'vllm') app.get('/metrics', serveMetrics);

  app.post('/v1/chat/completions', async (req: Request, res: Response) => {
    const body = req.body ?? {};
    const model = String(body.model ?? '');
    received.inc({ model_name: model });
    if (opts.hang) return; // accept and never answer: the failure `/health` does not reveal.
    if (!served.has(model)) return vllmError(res, 404, `The model \`${model}\` does not exist.`, 'NotFoundError', 'model');
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return vllmError(res, 400, 'messages must be a non-empty array', 'BadRequestError', 'messages');
    }
    const stream = body.stream === true;
    if (opts.failLoadModel.includes(model)) {
      // Discovered once the engine took the request: sync answers 500, a stream has its 200 head and
      // reports it as an error event (what the docs page shows inline).
      if (!stream) return vllmError(res, 500, `model failed to load: ${model}`, 'InternalServerError');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(`data: ${JSON.stringify({ error: { message: `model failed to load: ${model}`, type: 'InternalServerError', param: null, code: 500 } })}\n\n`);
      return void res.end('data: [DONE]\n\n');
    }
    const promptTokens = countPromptTokens({ messages: body.messages, tools: body.tools });
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
    const refusal = contextRefusal(promptTokens, maxTokens, opts.maxModelLen);
    if (refusal) return vllmError(res, 400, refusal.message, 'BadRequestError', refusal.param);
    // What the usage says: a node may report more than it counted (a fault Genie must book, never hide).
    const reportedPrompt = promptTokens + opts.overReportPromptTokens;

    const failure = pickFailure();
    if (failure === 'server_error') return vllmError(res, 500, 'injected failure: server error', 'InternalServerError');

    const messages = body.messages as PromptMessage[];
    const seed = opts.seed + (Number.isInteger(body.seed) ? body.seed : 0);
    const plan = planResponse({
      messages,
      seed,
      maxTokens,
      tools: body.tools,
      toolChoice: body.tool_choice,
      responseFormat: body.response_format,
      breakJson: failure === 'invalid_json',
      shape: opts,
    });
    // As vLLM and OpenAI answer: a call forced by name finishes "stop", one the model chose "tool_calls".
    const finishReason = plan.kind === 'tool' ? (plan.forced ? 'stop' : 'tool_calls') : plan.finishReason;
    const includeUsage = stream && body.stream_options?.include_usage === true;
    const id = `chatcmpl-sim-${Math.random().toString(36).slice(2, 12)}`;
    const createdAt = Math.floor(Date.now() / 1000);

    // The client leaving must stop generation at once: that is what the node-side abort test observes.
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        ac.abort();
        aborted.inc({ model_name: model });
      }
    });

    try {
      await slots.acquire(ac.signal);
    } catch {
      return;
    }
    const failAt = failure === 'mid_stream' ? Math.floor(plan.pieces.length / 2) : -1;
    let emitted = 0;
    try {
      if (opts.timeToFirstToken > 0) await sleep(opts.timeToFirstToken, undefined, { signal: ac.signal });
      if (!stream) {
        for (let i = 1; i < plan.pieces.length && opts.interTokenLatency > 0; i++) {
          await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        }
        if (failAt >= 0) return vllmError(res, 500, 'injected failure: generation aborted mid-stream', 'InternalServerError');
        emitted = plan.pieces.length;
        const message =
          plan.kind === 'tool'
            ? { role: 'assistant', content: '', tool_calls: [{ id: plan.id, type: 'function', function: { name: plan.name, arguments: plan.arguments } }] }
            : { role: 'assistant', content: plan.pieces.join('') };
        res.json({
          id,
          object: 'chat.completion',
          created: createdAt,
          model,
          choices: [{ index: 0, message, finish_reason: finishReason, logprobs: null }],
          usage: { prompt_tokens: reportedPrompt, completion_tokens: emitted, total_tokens: reportedPrompt + emitted },
        });
        success.inc({ model_name: model, finished_reason: finishReason });
        return;
      }

      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
      const chunk = (delta: Record<string, unknown>, finish: string | null) =>
        send({ id, object: 'chat.completion.chunk', created: createdAt, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
      chunk({ role: 'assistant', content: '' }, null);
      // A tool call streams as OpenAI's do: id, type and name first, then the arguments in pieces.
      if (plan.kind === 'tool') chunk({ tool_calls: [{ index: 0, id: plan.id, type: 'function', function: { name: plan.name, arguments: '' } }] }, null);
      for (let i = 0; i < plan.pieces.length; i++) {
        if (i > 0 && opts.interTokenLatency > 0) await sleep(opts.interTokenLatency, undefined, { signal: ac.signal });
        if (i === failAt) {
          // vLLM reports errors after the 200 as an SSE data event carrying an error object.
          send({ error: { message: 'injected failure: generation aborted mid-stream', type: 'InternalServerError', param: null, code: 500 } });
          res.end('data: [DONE]\n\n');
          return;
        }
        if (i === opts.stallAfter) return await stall(ac.signal);
        const written = chunk(plan.kind === 'tool' ? { tool_calls: [{ index: 0, function: { arguments: plan.pieces[i] } }] } : { content: plan.pieces[i] }, null);
        emitted++;
        tokensSent.inc({ model_name: model });
        await flowing(res, written, ac.signal);
      }
      chunk({}, finishReason);
      if (includeUsage) {
        send({ id, object: 'chat.completion.chunk', created: createdAt, model, choices: [], usage: { prompt_tokens: reportedPrompt, completion_tokens: emitted, total_tokens: reportedPrompt + emitted } });
      }
      res.end('data: [DONE]\n\n');
      success.inc({ model_name: model, finished_reason: finishReason });
    } catch (e) {
      if (!ac.signal.aborted) throw e;
    } finally {
      slots.release();
    }
  });

  const listen = async (handler: http.RequestListener, port: number) => {
    const server = http.createServer(handler);
    // Engines close idle keep-alive connections (uvicorn after 5 s): a client must not reuse one late.
    server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? (opts.engine === 'vllm' ? 5000 : 0);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, opts.host, () => resolve());
    });
    return server;
  };
  const server = await listen(app, opts.port);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host}:${port}`;
  let metricsServer: http.Server | null = null;
  if (opts.engine === 'triton') {
    const metricsApp = express();
    metricsApp.get('/metrics', serveMetrics);
    metricsServer = await listen(metricsApp, opts.metricsPort);
  }
  const close = (s: http.Server) =>
    new Promise<void>((resolve) => {
      s.closeAllConnections();
      s.close(() => resolve());
    });
  return {
    url,
    port,
    metricsUrl: metricsServer ? `http://${opts.host}:${(metricsServer.address() as AddressInfo).port}/metrics` : `${url}/metrics`,
    options: opts,
    close: async () => {
      await Promise.all([close(server), metricsServer ? close(metricsServer) : undefined]);
    },
  };
}

/**
 * vLLM 0.32's checks of a request against the context length, before it is scheduled (its messages
 * and `param`s verbatim). A prompt and max_tokens that each fit but not together are accepted: the
 * engine stops the output where the context ends.
 */
export function contextRefusal(promptTokens: number, maxTokens: number | null, maxModelLen: number): { message: string; param: string } | null {
  if (maxTokens != null && maxTokens > maxModelLen) {
    return { message: `max_tokens=${maxTokens} cannot be greater than max_model_len=${maxModelLen}. Please request fewer output tokens. (parameter=max_tokens, value=${maxTokens})`, param: 'max_tokens' };
  }
  if (promptTokens > maxModelLen) {
    return {
      message: `This model's maximum context length is ${maxModelLen} tokens. However, your prompt contains at least ${promptTokens} input tokens, which exceeds this limit even without any output tokens. Please reduce the length of the input prompt. (parameter=input_tokens, value=${promptTokens})`,
      param: 'input_tokens',
    };
  }
  if (promptTokens === maxModelLen) return { message: 'max_tokens must be at least 1, got 0. (parameter=max_tokens, value=0)', param: 'max_tokens' };
  return null;
}
