import { RequestError, type Got } from 'got';
import { z } from 'zod';
import type { NodeRequest } from '../../protocol/chat-request.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { reverseNames, servedName, type NodeModel, type NodeRef } from '../nodes/node-list.js';
import { renderChat } from './chat-templates.js';
import type { NodeChunk, NodeClient, NodeCompletion } from './node-client.js';
import { UpstreamError } from './upstream-error.js';
import { DEFAULT_STALL_TIMEOUT_MS, fetchLoad, nodeEvents, nodeHttp, reachable, type NodeHttpOptions } from './node-http.js';
import type { NodeLoad } from '../../protocol/node.js';

const eventSchema = z.object({ text_output: z.string().optional(), error: z.string().optional() }).loose();
const indexSchema = z.array(z.object({ name: z.string(), state: z.string().optional(), reason: z.string().optional() }));
const configSchema = z.object({ input: z.array(z.object({ name: z.string() })).default([]) }).loose();

/**
 * A Triton model's name in a request path, raw as Triton matches it (`qwen3:8b`, not `qwen3%3A8b`):
 * only what a path segment cannot carry is escaped.
 */
export function modelPath(name: string): string {
  return encodeURIComponent(name).replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

/** OpenAI's seed (any safe integer) as the UINT64 `random_seed` TensorRT-LLM takes: two's complement. */
export function uint64Seed(seed: number): bigint {
  return BigInt.asUintN(64, BigInt(seed));
}

/** JSON with bigint values as exact numbers (a UINT64 beyond 2^53 would lose digits as a JS number). */
function jsonWithBigints(value: unknown): string {
  const marks: string[] = [];
  const text = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `@@bigint${marks.push(v.toString()) - 1}@@` : v));
  return text.replace(/"@@bigint(\d+)@@"/g, (_m, i: string) => marks[Number(i)]);
}

/**
 * Triton's answer to a generate request that failed: every failure comes as one status (400) with an
 * SSE body `data: {"error":"…"}`, whatever went wrong in the model. The message is the model's; the
 * failure is the engine's (the caller's request was valid for Genie), so another node may serve it.
 */
function tritonError(status: number, body: string): UpstreamError {
  let message: string | null = null;
  for (const line of body.split(/\r?\n/)) {
    const data = line.startsWith('data:') ? line.slice(5).trim() : line.trim();
    if (!data) continue;
    try {
      const parsed = JSON.parse(data) as { error?: unknown };
      if (typeof parsed.error === 'string') message = parsed.error;
    } catch {
      message ??= data;
    }
    if (message) break;
  }
  if (status === 404 || status >= 500) return UpstreamError.fromHttp(status, message ?? body);
  return UpstreamError.engine(message ?? `node answered HTTP ${status}`);
}

/**
 * The generate request for one model, shaped by the inputs it declares (its config, read by the probe):
 * - TensorRT-LLM (ensemble / BLS): `max_tokens`, `stop_words`, `random_seed`, `temperature`, `top_p`, `stream`
 *   as input tensors (top-level keys of the generate request);
 * - Triton's vLLM backend: one `sampling_parameters` JSON string, `stream`, `exclude_input_in_output`.
 * A model whose inputs are unknown gets the scalar fields as request parameters, and no stop words
 * (a list is not a legal parameter).
 */
export function generateBody(request: NodeRequest, inputs: string[] | undefined, prompt: string): Record<string, unknown> {
  const stop = request.stop == null ? null : Array.isArray(request.stop) ? request.stop : [request.stop];
  const has = (name: string) => inputs?.includes(name) ?? false;
  if (has('sampling_parameters')) {
    const sampling: Record<string, unknown> = {};
    if (request.max_tokens != null) sampling.max_tokens = request.max_tokens;
    if (request.temperature != null) sampling.temperature = request.temperature;
    if (request.top_p != null) sampling.top_p = request.top_p;
    if (request.seed != null) sampling.seed = request.seed;
    if (stop) sampling.stop = stop;
    return {
      text_input: prompt,
      ...(has('stream') ? { stream: true } : {}),
      ...(has('exclude_input_in_output') ? { exclude_input_in_output: true } : {}),
      sampling_parameters: JSON.stringify(sampling),
    };
  }
  const fields: Record<string, unknown> = {};
  if (request.max_tokens != null) fields.max_tokens = request.max_tokens;
  if (request.temperature != null) fields.temperature = request.temperature;
  if (request.top_p != null) fields.top_p = request.top_p;
  if (request.seed != null) fields.random_seed = uint64Seed(request.seed);
  if (!inputs) {
    // Request parameters are scalars; Triton hands those named like an input to the model as that input.
    return { text_input: prompt, parameters: { stream: true, ...fields } };
  }
  const body: Record<string, unknown> = { text_input: prompt };
  for (const [name, value] of Object.entries(fields)) if (has(name)) body[name] = value;
  if (has('stream')) body.stream = true;
  if (stop && has('stop_words')) body.stop_words = stop;
  return body;
}

/**
 * NVIDIA Triton through the KServe v2 generate extension (`/v2/models/{model}/generate_stream`).
 * Chat messages are rendered to `text_input` with the model's chat template; every streamed event is
 * checked for an error object, because Triton reports mid-stream failures under HTTP 200. Triton gives
 * no token counts: completion tokens are the events received (one token each with TensorRT-LLM
 * streaming) and prompt tokens the documented estimate.
 */
export class TritonClient implements NodeClient {
  private readonly http: Got;

  constructor(private readonly opts: NodeHttpOptions & { requestTimeoutMs: number; connectTimeoutMs?: number }) {
    this.http = nodeHttp(opts);
  }

  async complete(node: NodeRef, request: NodeRequest, signal: AbortSignal): Promise<NodeCompletion> {
    let content = '';
    let finish: string | null = null;
    let usage: NodeCompletion['usage'] | null = null;
    for await (const chunk of this.stream(node, request, signal)) {
      content += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    return { choices: [{ message: { content }, finish_reason: finish ?? 'stop' }], usage: usage! };
  }

  async *stream(node: NodeRef, request: NodeRequest, signal: AbortSignal, onAccepted?: () => void): AsyncGenerator<NodeChunk> {
    const name = servedName(node, request.model);
    const body = generateBody(request, node.model?.inputs, renderChat(request));
    let tokens = 0;
    try {
      const events = nodeEvents(node, {
        stallMs: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        open: () =>
          this.http.stream.post(`${node.url}/v2/models/${modelPath(name)}/generate_stream`, {
            body: jsonWithBigints(body),
            headers: { 'content-type': 'application/json' },
            signal,
            timeout: { connect: this.opts.connectTimeoutMs ?? 5000, response: this.opts.requestTimeoutMs },
          }),
        errorOf: tritonError,
        onAccepted,
        producedNothing: () => tokens === 0,
      });
      for await (const data of events) {
        const event = eventSchema.parse(JSON.parse(data));
        // After the first event the caller may have tokens: no failover, the stream ends in an inline error.
        if (event.error) throw new UpstreamError(event.error, 500, tokens === 0);
        if (event.text_output) {
          tokens++;
          yield { choices: [{ index: 0, delta: { content: event.text_output } }] };
        }
      }
      const prompt = estimatePromptTokens(request.messages);
      const finish = request.max_tokens != null && tokens >= request.max_tokens ? 'length' : 'stop';
      yield { choices: [{ index: 0, delta: {}, finish_reason: finish }], usage: { prompt_tokens: prompt, completion_tokens: tokens, total_tokens: prompt + tokens } };
    } catch (e) {
      if (e instanceof RequestError && !signal.aborted) throw UpstreamError.unreachable(node.name, e);
      throw e;
    }
  }

  /**
   * The repository's models that are READY, judged per model: one model that failed to load leaves
   * the others served (strict readiness would fail the whole node's `/v2/health/ready`). Each model's
   * inputs come from its config once; they do not change while it stays loaded.
   */
  async models(node: NodeRef, signal?: AbortSignal, known: Record<string, NodeModel> = {}): Promise<Record<string, NodeModel>> {
    const res = await reachable(node, () => this.http.post(`${node.url}/v2/repository/index`, { json: {}, responseType: 'text', signal, timeout: { request: 3000 } }));
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    const genieId = reverseNames(node);
    const ready = indexSchema.parse(JSON.parse(res.body)).filter((m) => !m.state || m.state === 'READY');
    const out: Record<string, NodeModel> = {};
    for (const m of ready) {
      const id = genieId(m.name);
      const inputs = known[id]?.inputs ?? (await this.inputsOf(node, m.name, signal));
      out[id] = { ...(id !== m.name ? { served: m.name } : {}), ...(inputs ? { inputs } : {}) };
    }
    return out;
  }

  private async inputsOf(node: NodeRef, name: string, signal?: AbortSignal): Promise<string[] | undefined> {
    const res = await reachable(node, () => this.http.get(`${node.url}/v2/models/${modelPath(name)}/config`, { responseType: 'text', signal, timeout: { request: 3000 } }));
    if (res.statusCode >= 400) return undefined;
    const parsed = configSchema.safeParse(JSON.parse(res.body));
    return parsed.success ? parsed.data.input.map((i) => i.name) : undefined;
  }

  /** The server is up (live); whether each model can serve is the repository index's per-model state. */
  async health(node: NodeRef, signal?: AbortSignal): Promise<boolean> {
    const res = await reachable(node, () => this.http.get(`${node.url}/v2/health/live`, { signal, timeout: { request: 3000 } }));
    return res.statusCode === 200;
  }

  load(node: NodeRef): Promise<NodeLoad> {
    return fetchLoad(this.http, node);
  }
}
