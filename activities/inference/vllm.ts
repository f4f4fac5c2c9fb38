import { RequestError, type Got } from 'got';
import { z } from 'zod';
import type { NodeRequest } from '../../protocol/chat-request.js';
import { reverseNames, servedName, type NodeModel, type NodeRef } from '../nodes/node-list.js';
import { nodeChunkSchema, nodeCompletionSchema, type NodeChunk, type NodeClient, type NodeCompletion } from './node-client.js';
import { UpstreamError } from './upstream-error.js';
import { DEFAULT_STALL_TIMEOUT_MS, fetchLoad, nodeEvents, nodeHttp, reachable, type NodeHttpOptions } from './node-http.js';
import type { NodeLoad } from '../../protocol/node.js';

// vLLM lists each served model with its context length (`max_model_len`).
const modelsSchema = z.object({ data: z.array(z.object({ id: z.string(), max_model_len: z.number().int().positive().nullish() })) });

export interface VllmClientOptions extends NodeHttpOptions {
  /**
   * Whole-request budget of a sync call, and the wait for response headers of a stream. (A sync call's
   * answer comes whole at the end, so the stall timeout cannot apply to it: this bounds it instead.)
   */
  requestTimeoutMs: number;
  connectTimeoutMs?: number;
}

/**
 * OpenAI's shape where vLLM's differs: vLLM sends `content: ""` beside tool calls, OpenAI `null`
 * (the SDKs' and callers' check for "a tool call, no text").
 */
function normalised(completion: NodeCompletion): NodeCompletion {
  for (const c of completion.choices) if (c.message.tool_calls?.length && c.message.content === '') c.message.content = null;
  return completion;
}
function normalisedChunk(chunk: NodeChunk): NodeChunk {
  for (const c of chunk.choices) if (c.delta.tool_calls?.length && c.delta.content === '') delete c.delta.content;
  return chunk;
}

/** vLLM's OpenAI-compatible HTTP API: `/v1/chat/completions` (sync + SSE), `/v1/models`, `/health`. */
export class VllmClient implements NodeClient {
  private readonly http: Got;

  constructor(private readonly opts: VllmClientOptions) {
    this.http = nodeHttp(opts);
  }

  private body(node: NodeRef, request: NodeRequest) {
    return { ...request, model: servedName(node, request.model) };
  }

  async complete(node: NodeRef, request: NodeRequest, signal: AbortSignal): Promise<NodeCompletion> {
    const res = await reachable(node, () =>
      this.http.post(`${node.url}/v1/chat/completions`, {
        json: { ...this.body(node, request), stream: false },
        responseType: 'text',
        signal,
        timeout: { connect: this.opts.connectTimeoutMs ?? 5000, request: this.opts.requestTimeoutMs },
      }),
    );
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    return normalised(nodeCompletionSchema.parse(JSON.parse(res.body)));
  }

  async *stream(node: NodeRef, request: NodeRequest, signal: AbortSignal, onAccepted?: () => void): AsyncGenerator<NodeChunk> {
    let tokens = 0;
    try {
      const events = nodeEvents(node, {
        stallMs: this.opts.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
        open: () =>
          this.http.stream.post(`${node.url}/v1/chat/completions`, {
            json: { ...this.body(node, request), stream: true, stream_options: { include_usage: true } },
            signal,
            timeout: { connect: this.opts.connectTimeoutMs ?? 5000, response: this.opts.requestTimeoutMs },
          }),
        onAccepted,
        producedNothing: () => tokens === 0,
      });
      for await (const data of events) {
        if (data === '[DONE]') return;
        const event = JSON.parse(data) as Record<string, unknown>;
        // vLLM reports failures after the 200 as an event carrying an error object.
        if (event.error || event.object === 'error') {
          const code = Number((event.error as { code?: unknown })?.code ?? (event as { code?: unknown }).code) || 500;
          throw new UpstreamError(UpstreamError.fromHttp(code, event).message, code, false);
        }
        const chunk = normalisedChunk(nodeChunkSchema.parse(event));
        if (chunk.choices.some((c) => c.delta.content || c.delta.tool_calls?.length)) tokens++;
        yield chunk;
      }
    } catch (e) {
      if (e instanceof RequestError && !signal.aborted) throw UpstreamError.unreachable(node.name, e);
      throw e;
    }
  }

  async models(node: NodeRef, signal?: AbortSignal): Promise<Record<string, NodeModel>> {
    const res = await reachable(node, () => this.http.get(`${node.url}/v1/models`, { responseType: 'text', signal, timeout: { request: 3000 } }));
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    const genieId = reverseNames(node);
    return Object.fromEntries(
      modelsSchema.parse(JSON.parse(res.body)).data.map((m) => {
        const id = genieId(m.id);
        return [id, { ...(id !== m.id ? { served: m.id } : {}), ...(m.max_model_len ? { contextLength: m.max_model_len } : {}) }];
      }),
    );
  }

  async health(node: NodeRef, signal?: AbortSignal): Promise<boolean> {
    const res = await reachable(node, () => this.http.get(`${node.url}/health`, { signal, timeout: { request: 3000 } }));
    return res.statusCode === 200;
  }

  load(node: NodeRef): Promise<NodeLoad> {
    return fetchLoad(this.http, node);
  }
}
