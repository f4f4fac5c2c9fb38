import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
  /** When the request had arrived whole (Date.now()). */
  at: number;
  /** When the client closed the connection before the answer was complete; null if it never did. */
  cutAt: number | null;
}

/**
 * How to answer one request: a status, or a status with headers, a delay before the answer (a receiver
 * that hangs), or a body that never ends (1 KB every 10 ms until the client leaves).
 */
export type Reply = number | { status: number; headers?: Record<string, string>; delayMs?: number; endless?: boolean };

/** A real HTTP receiver on loopback; `respond(n)` picks the answer to the n-th request (0-based). */
export async function startReceiver(respond: (n: number, body: string) => Reply = () => 200) {
  const received: ReceivedWebhook[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const reply = respond(received.length, body);
      const { status, headers, delayMs = 0, endless = false } = typeof reply === 'number' ? { status: reply } : reply;
      const entry: ReceivedWebhook = { headers: req.headers, body, status, at: Date.now(), cutAt: null };
      received.push(entry);
      const timers: NodeJS.Timeout[] = [];
      res.on('close', () => {
        timers.forEach(clearTimeout);
        timers.forEach(clearInterval);
        if (!res.writableFinished) entry.cutAt = Date.now();
      });
      const answer = () => {
        if (!endless) return void res.writeHead(status, headers).end();
        res.writeHead(status, { 'content-type': 'text/plain', ...headers });
        timers.push(setInterval(() => res.write('x'.repeat(1024)), 10));
      };
      if (delayMs > 0) timers.push(setTimeout(answer, delayMs));
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    /** Waits until `predicate` holds for what was received (polling; bounded). */
    async until(predicate: (r: ReceivedWebhook[]) => boolean, timeoutMs = 20_000): Promise<void> {
      const end = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > end) throw new Error(`receiver: condition not met in ${timeoutMs} ms (${received.length} received)`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        // Kept-alive sockets from Genie's agent, and answers still hanging, must not hold the close.
        server.closeAllConnections();
      }),
  };
}
