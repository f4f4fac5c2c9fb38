import http from 'node:http';
import https from 'node:https';
import got, { RequestError, type Got } from 'got';
import { z } from 'zod';
import type { NodeRequest } from '../../protocol/chat-request.js';
import type { NodeRef } from '../nodes/node-list.js';
import { nodeChunkSchema, nodeCompletionSchema, type NodeChunk, type NodeClient, type NodeCompletion } from './node-client.js';
import { sseData } from './sse.js';
import { UpstreamError } from './upstream-error.js';
import { awaitStreamHead, fetchLoad, reachable } from './node-http.js';
import type { NodeLoad } from '../../protocol/node.js';

const modelsSchema = z.object({ data: z.array(z.object({ id: z.string() })) });

export interface VllmClientOptions {
  /** Whole-request budget of a sync call, and the wait for response headers of a stream. */
  requestTimeoutMs: number;
  connectTimeoutMs?: number;
}

/** vLLM's OpenAI-compatible HTTP API: `/v1/chat/completions` (sync + SSE), `/v1/models`, `/health`. */
export class VllmClient implements NodeClient {
  private readonly http: Got;

  constructor(private readonly opts: VllmClientOptions) {
    // Keep-alive pools: a fresh TCP handshake per completion would sit on every request's latency.
    this.http = got.extend({
      retry: { limit: 0 },
      throwHttpErrors: false,
      agent: {
        http: new http.Agent({ keepAlive: true, maxSockets: 512 }),
        https: new https.Agent({ keepAlive: true, maxSockets: 512 }),
      },
    });
  }

  async complete(node: NodeRef, request: NodeRequest, signal: AbortSignal): Promise<NodeCompletion> {
    const res = await reachable(node, () =>
      this.http.post(`${node.url}/v1/chat/completions`, {
        json: { ...request, stream: false },
        responseType: 'text',
        signal,
        timeout: { connect: this.opts.connectTimeoutMs ?? 5000, request: this.opts.requestTimeoutMs },
      }),
    );
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    return nodeCompletionSchema.parse(JSON.parse(res.body));
  }

  async *stream(node: NodeRef, request: NodeRequest, signal: AbortSignal): AsyncGenerator<NodeChunk> {
    const body = this.http.stream.post(`${node.url}/v1/chat/completions`, {
      json: { ...request, stream: true, stream_options: { include_usage: true } },
      signal,
      timeout: { connect: this.opts.connectTimeoutMs ?? 5000, response: this.opts.requestTimeoutMs },
    });
    try {
      await awaitStreamHead(node, body);
      for await (const data of sseData(body)) {
        if (data === '[DONE]') return;
        const event = JSON.parse(data) as Record<string, unknown>;
        // vLLM reports failures after the 200 as an event carrying an error object.
        if (event.error || event.object === 'error') {
          const code = Number((event.error as { code?: unknown })?.code ?? (event as { code?: unknown }).code) || 500;
          throw new UpstreamError(UpstreamError.fromHttp(code, event).message, code, false);
        }
        yield nodeChunkSchema.parse(event);
      }
    } catch (e) {
      if (e instanceof RequestError && !signal.aborted) throw UpstreamError.unreachable(node.name, e);
      throw e;
    } finally {
      body.destroy();
    }
  }

  async models(node: NodeRef, signal?: AbortSignal): Promise<string[]> {
    const res = await reachable(node, () =>
      this.http.get(`${node.url}/v1/models`, { responseType: 'text', signal, timeout: { request: 3000 } }),
    );
    if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
    return modelsSchema.parse(JSON.parse(res.body)).data.map((m) => m.id);
  }

  async health(node: NodeRef, signal?: AbortSignal): Promise<boolean> {
    const res = await reachable(node, () => this.http.get(`${node.url}/health`, { signal, timeout: { request: 3000 } }));
    return res.statusCode === 200;
  }

  load(node: NodeRef): Promise<NodeLoad> {
    return fetchLoad(this.http, node);
  }
}
