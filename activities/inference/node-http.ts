import type http from 'node:http';
import type { Readable } from 'node:stream';
import Agent, { HttpsAgent } from 'agentkeepalive';
import got, { RequestError, type Got } from 'got';
import type { NodeLoad } from '../../protocol/node.js';
import { parseLoad } from '../nodes/load-metrics.js';
import type { NodeRef } from '../nodes/node-list.js';
import { sseData } from './sse.js';
import { UpstreamError } from './upstream-error.js';

export interface NodeHttpOptions {
  /**
   * How long an idle keep-alive socket may wait for its next request. Below the engines' own idle
   * close (uvicorn, so vLLM, closes after 5 s), so Genie never writes a request onto a socket the
   * server is closing at that moment.
   */
  idleSocketMs?: number;
  /**
   * How long a stream may go without an event while Genie waits for the node: from the request to the
   * first event, and between events. Time the caller takes to read is not counted (see `nodeEvents`).
   */
  stallTimeoutMs?: number;
}

export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

/**
 * The HTTP client of every node call: keep-alive pools (a fresh TCP handshake per completion would
 * sit on every request's latency) whose idle sockets are retired before the engine closes them, and
 * no retries — Temporal owns retries (DESIGN §6.5).
 */
export function nodeHttp(opts: NodeHttpOptions = {}): Got {
  const freeSocketTimeout = opts.idleSocketMs ?? 4000;
  // `timeout: 0`: no inactivity limit on a socket in use. agentkeepalive's default (8 s) cut every
  // non-streamed answer that took longer to generate, every first token slower than that, and would cut
  // a stream paused for a slow caller; a sync call has its request timeout, a stream the stall timeout.
  const pool = { keepAlive: true, maxSockets: 512, freeSocketTimeout, timeout: 0 };
  return got.extend({
    retry: { limit: 0 },
    throwHttpErrors: false,
    agent: { http: new Agent(pool), https: new HttpsAgent(pool) },
  });
}

/**
 * A request that died on a reused keep-alive socket before any byte of an answer came back: the
 * server closed that idle socket as the request went out, so it never saw the request. Not the node's
 * fault, and safe to send once more on a fresh socket (Node's own advice for `reusedSocket`).
 */
function staleSocket(e: unknown): boolean {
  return (
    e instanceof RequestError &&
    e.request?.reusedSocket === true &&
    e.response === undefined &&
    (e.code === 'ECONNRESET' || e.code === 'EPIPE' || e.code === 'ECONNABORTED')
  );
}

/** Network failures (refused, reset, timeout) become one classified error; aborts pass through. */
export async function reachable<T>(node: NodeRef, fn: () => Promise<T>): Promise<T> {
  try {
    try {
      return await fn();
    } catch (e) {
      if (!staleSocket(e)) throw e;
      return await fn(); // the pool has dropped the dead socket: this one goes out on a fresh one
    }
  } catch (e) {
    if (e instanceof RequestError && e.name !== 'AbortError' && e.code !== 'ERR_ABORTED') throw UpstreamError.unreachable(node.name, e);
    throw e;
  }
}

/**
 * Where a node's Prometheus metrics live: where the node's config says, else vLLM's `<url>/metrics`,
 * or Triton's own metrics port (8002 by default) on the node's host.
 */
export function metricsUrlOf(node: NodeRef): string {
  if (node.metricsUrl) return node.metricsUrl;
  if (node.engine === 'vllm') return `${node.url}/metrics`;
  const url = new URL(node.url);
  url.port = '8002';
  url.pathname = '/metrics';
  return url.toString();
}

/** A node's load from its Prometheus metrics. */
export async function fetchLoad(http: Got, node: NodeRef): Promise<NodeLoad> {
  const res = await reachable(node, () => http.get(metricsUrlOf(node), { responseType: 'text', timeout: { request: 3000 } }));
  if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
  return parseLoad(res.body, node.engine);
}

/**
 * Opens a streaming request and waits for its response head: a node that cannot be reached is
 * classified (a stale keep-alive socket is retried once on a fresh one), an HTTP error answer becomes
 * the node's own error (its body read in full and parsed by `errorOf`), a 2xx returns the body to read.
 */
async function openStream(node: NodeRef, open: () => Readable, errorOf: (status: number, body: string) => UpstreamError = UpstreamError.fromHttp): Promise<Readable> {
  const head = async (): Promise<Readable> => {
    const body = open();
    try {
      const status = await new Promise<number>((resolve, reject) => {
        body.once('response', (r: http.IncomingMessage) => resolve(r.statusCode ?? 0));
        body.once('error', reject);
      });
      if (status >= 400) {
        let text = '';
        for await (const c of body) text += c.toString();
        throw errorOf(status, text);
      }
      return body;
    } catch (e) {
      body.destroy();
      throw e;
    }
  };
  return reachable(node, head);
}

/**
 * The SSE events of a node's streaming answer, under the stall timeout: a node that sends nothing for
 * `stallMs` — before its response head, before its first event or between two events — has its request
 * destroyed, and the read fails with `UpstreamError.stalled` (another node may take the completion while
 * `producedNothing()` holds). The clock runs only while Genie waits for the node: while the consumer
 * holds an event (a slow caller's back-pressure), nothing is read and nothing is timed.
 */
export async function* nodeEvents(
  node: NodeRef,
  opts: { stallMs: number; open: () => Readable; errorOf?: (status: number, body: string) => UpstreamError; onAccepted?: () => void; producedNothing: () => boolean },
): AsyncGenerator<string> {
  let body: Readable | undefined;
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      stalled = true;
      // With an error, so a wait for the response head rejects too (a destroy without one never settles it).
      body?.destroy(new Error(`node ${node.name} stalled`));
    }, opts.stallMs);
  };
  const stallError = () => UpstreamError.stalled(node.name, opts.stallMs, opts.producedNothing());
  arm();
  try {
    body = await openStream(node, () => (body = opts.open()), opts.errorOf);
    opts.onAccepted?.();
    for await (const data of sseData(body)) {
      clearTimeout(timer);
      yield data;
      arm();
    }
    if (stalled) throw stallError();
  } catch (e) {
    if (stalled) throw stallError();
    throw e;
  } finally {
    clearTimeout(timer);
    body?.destroy();
  }
}
