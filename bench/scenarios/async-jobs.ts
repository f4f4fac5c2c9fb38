import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { pct, round } from '../stats.js';

// Scenario (d): async jobs with webhooks. Accept latency (the 202), accept→webhook delay, sustained
// jobs/s, delivered fraction, against a receiver that fails 5% of first attempts (retried by Genie).

export async function asyncScenario(apiUrl: string, apiKey: string, jobs: number, concurrency: number) {
  const arrivals = new Map<string, number>();
  const firstAttempts = new Set<string>();
  let failedFirst = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id']);
      if (!firstAttempts.has(id)) {
        firstAttempts.add(id);
        if (Math.random() < 0.05) {
          failedFirst++;
          return res.writeHead(500).end();
        }
      }
      if (!arrivals.has(id)) arrivals.set(id, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hook = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  const accepted = new Map<string, number>();
  const acceptMs: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs) {
        const i = next++;
        const start = performance.now();
        const res = await fetch(`${apiUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
          body: JSON.stringify({ model: 'qwen3:0.6b', mode: 'async', max_tokens: 16, messages: [{ role: 'user', content: `async ${i}` }], webhook: { url: hook, secret: 'bench-secret' } }),
        });
        const body = (await res.json()) as { id: string };
        if (res.status !== 202) throw new Error(`async answered ${res.status}`);
        accepted.set(body.id, start);
        acceptMs.push(performance.now() - start);
      }
    }),
  );
  const deadline = performance.now() + 120_000;
  while (arrivals.size < jobs && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const lastArrival = Math.max(...arrivals.values());
  server.close();
  const toWebhook = [...arrivals].map(([id, at]) => at - accepted.get(id)!);
  return {
    jobs,
    concurrency,
    acceptP50: pct(acceptMs, 50),
    acceptP99: pct(acceptMs, 99),
    acceptToWebhookP50: pct(toWebhook, 50),
    acceptToWebhookP99: pct(toWebhook, 99),
    jobsPerSecond: round(arrivals.size / ((lastArrival - t0) / 1000)),
    webhooksDeliveredFraction: arrivals.size / jobs,
    receiverFailedFirstAttempts: failedFirst,
  };
}
