import type http from 'node:http';

const connections = (server: http.Server) => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n ?? 0)));

/**
 * Stops accepting connections (if it still does) and waits until every request in flight has been
 * answered, or `graceMs` ends. Idle keep-alive connections are closed right away, and a busy one as
 * soon as its response has ended (re-checked every 100 ms), so a client's next request goes to another
 * replica. Safe to call again: the second call only waits.
 */
export async function drainHttp(server: http.Server, graceMs: number): Promise<{ unfinished: number }> {
  if (server.listening) server.close();
  const deadline = Date.now() + graceMs;
  for (;;) {
    server.closeIdleConnections();
    const open = await connections(server);
    if (open === 0 || Date.now() >= deadline) return { unfinished: open };
    await new Promise((r) => setTimeout(r, 100));
  }
}
