import http from 'node:http';
import got, { RequestError, type Got } from 'got';
import { z } from 'zod';
import type { NodeRequest } from '../../protocol/chat-request.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import type { NodeRef } from '../nodes/node-list.js';
import { renderChat } from './chat-templates.js';
import type { NodeChunk, NodeClient, NodeCompletion } from './node-client.js';
import { sseData } from './sse.js';
import { UpstreamError } from './upstream-error.js';
import { awaitStreamHead, fetchLoad, reachable } from './node-http.js';
import type { NodeLoad } from '../../protocol/node.js';

const eventSchema = z.object({ text_output: z.string().optional(), error: z.string().optional() }).loose();
const indexSchema = z.array(z.object({ name: z.string(), state: z.string().optional() }));

/**
 * NVIDIA Triton through the KServe v2 generate extension (`/v2/models/{model}/generate_stream`).
 * Chat messages are rendered to `text_input` with the model's chat template; every streamed event is
 * checked for an error object, because Triton reports mid-stream failures under HTTP 200. Triton gives
 * no token counts: completion tokens are the events received (one token each with TensorRT-LLM
 * streaming) and prompt tokens the documented estimate.
 */
export class TritonClient implements NodeClient {
  private readonly http: Got;

  constructor(private readonly opts: { requestTimeoutMs: number; connectTimeoutMs?: number }) {
    this.http = got.extend({ retry: { limit: 0 }, throwHttpErrors: false, agent: { http: new http.Agent({ keepAlive: true, maxSockets: 512 }) } });
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

  async *stream(node: NodeRef, request: NodeRequest, signal: AbortSignal): AsyncGenerator<NodeChunk> {
    const parameters: Record<string, unknown> = { stream: true };
    if (request.max_tokens != null) parameters.max_tokens = request.max_tokens;
    if (request.temperature != null) parameters.temperature = request.temperature;
    if (request.top_p != null) parameters.top_p = request.top_p;
    if (request.seed != null) parameters.random_seed = request.seed;
    if (request.stop != null) parameters.stop = Array.isArray(request.stop) ? request.stop : [request.stop];
    const body = this.http.stream.post(`${node.url}/v2/models/${encodeURIComponent(request.model)}/generate_stream`, {
      json: { text_input: renderChat(request), parameters },
      signal,
      timeout: { connect: this.opts.connectTimeoutMs ?? 5000, response: this.opts.requestTimeoutMs },
    });
    let tokens = 0;
    try {
      await awaitStreamHead(node, body);
      for await (const data of sseData(body)) {
        const event = eventSchema.parse(JSON.parse(data));
        if (event.error) throw new UpstreamError(event.error, 500, false);
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
    } finally {
      body.destroy();
    }
  }

  async models(node: NodeRef): Promise<string[]> {
    const res = await reachable(node, () => this.http.post(`${node.url}/v2/repository/index`, { json: {}, responseType: 'text', timeout: { request: 3000 } }));
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    return indexSchema.parse(JSON.parse(res.body)).filter((m) => !m.state || m.state === 'READY').map((m) => m.name);
  }

  async health(node: NodeRef): Promise<boolean> {
    const res = await reachable(node, () => this.http.get(`${node.url}/v2/health/ready`, { timeout: { request: 3000 } }));
    return res.statusCode === 200;
  }

  load(node: NodeRef): Promise<NodeLoad> {
    return fetchLoad(this.http, node);
  }
}
