import type http from 'node:http';
import type { Readable } from 'node:stream';
import { RequestError, type Got } from 'got';
import type { NodeLoad } from '../../protocol/node.js';
import { parseLoad } from '../nodes/load-metrics.js';
import type { NodeRef } from '../nodes/node-list.js';
import { UpstreamError } from './upstream-error.js';

/** Network failures (refused, reset, timeout) become one classified error; aborts pass through. */
export async function reachable<T>(node: NodeRef, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RequestError && e.name !== 'AbortError' && e.code !== 'ERR_ABORTED') throw UpstreamError.unreachable(node.name, e);
    throw e;
  }
}

/** A node's load from its Prometheus `/metrics` (both engines expose them there in Genie's setups). */
export async function fetchLoad(http: Got, node: NodeRef): Promise<NodeLoad> {
  const res = await reachable(node, () => http.get(`${node.url}/metrics`, { responseType: 'text', timeout: { request: 3000 } }));
  if (res.statusCode >= 400) throw UpstreamError.fromHttp(res.statusCode, res.body);
  return parseLoad(res.body, node.engine);
}

/**
 * Waits for a streaming request's response head: a node that cannot be reached is classified, an
 * HTTP error answer becomes the node's own error (its body read in full), a 2xx leaves the body to read.
 */
export async function awaitStreamHead(node: NodeRef, body: Readable): Promise<void> {
  const status = await reachable(
    node,
    () =>
      new Promise<number>((resolve, reject) => {
        body.once('response', (r: http.IncomingMessage) => resolve(r.statusCode ?? 0));
        body.once('error', reject);
      }),
  );
  if (status >= 400) {
    let text = '';
    for await (const c of body) text += c.toString();
    throw UpstreamError.fromHttp(status, text);
  }
}
