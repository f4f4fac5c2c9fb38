import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback webhook receiver for the async scenarios: records the first successful arrival of each
 * webhook id. `failFirstFraction` of first attempts answer 500, so Genie's retries are on the path.
 */
export async function startWebhookReceiver(opts: { failFirstFraction?: number } = {}) {
  const arrivals = new Map<string, number>();
  const firstAttempts = new Set<string>();
  let failedFirst = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!firstAttempts.has(id)) {
        firstAttempts.add(id);
        if (Math.random() < (opts.failFirstFraction ?? 0)) {
          failedFirst++;
          return res.writeHead(500).end();
        }
      }
      if (!arrivals.has(id)) arrivals.set(id, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    /** Webhook id (the job id) → performance.now() of its first successful delivery. */
    arrivals,
    failedFirst: () => failedFirst,
    /** Resolves once every id has arrived, or at the deadline (then some are missing). */
    async waitFor(ids: Iterable<string>, timeoutMs = 120_000): Promise<void> {
      const want = [...ids];
      const deadline = performance.now() + timeoutMs;
      while (want.some((id) => !arrivals.has(id)) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    },
    // Genie's webhook client keeps connections alive: cut them, or close() waits for their timeout.
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;
