import type http from 'node:http';

/**
 * Stops accepting connections and waits until every request in flight has been answered, or the grace
 * period ends. Idle keep-alive connections are closed right away, and a busy one as soon as its
 * response has ended (re-checked every 100 ms), so a client's next request goes to another replica.
 */
export async function drainHttp(server: http.Server, graceMs: number): Promise<{ unfinished: number }> {
  // server.close() calls back only once every connection is gone: that is the drained state.
  const closed = new Promise<true>((resolve) => server.close(() => resolve(true)));
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    server.closeIdleConnections();
    if (await Promise.race([closed, new Promise<false>((r) => setTimeout(() => r(false), 100))])) return { unfinished: 0 };
  }
  return { unfinished: await new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n ?? 0))) };
}
