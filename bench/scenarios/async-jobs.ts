import { pct, round } from '../stats.js';
import { startWebhookReceiver } from '../webhook-receiver.js';

// Scenario (d): async jobs with webhooks. Accept latency (the 202), accept→webhook delay, sustained
// jobs/s, delivered fraction, against a receiver that fails 5% of first attempts (retried by Genie).

export async function asyncScenario(apiUrl: string, apiKey: string, jobs: number, concurrency: number) {
  const receiver = await startWebhookReceiver({ failFirstFraction: 0.05 });
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
          body: JSON.stringify({ model: 'qwen3:0.6b', mode: 'async', max_tokens: 16, messages: [{ role: 'user', content: `async ${i}` }], webhook: { url: receiver.url, secret: 'bench-secret' } }),
        });
        const body = (await res.json()) as { id: string };
        if (res.status !== 202) throw new Error(`async answered ${res.status}`);
        accepted.set(body.id, start);
        acceptMs.push(performance.now() - start);
      }
    }),
  );
  await receiver.waitFor(accepted.keys());
  await receiver.close();
  const arrivals = receiver.arrivals;
  const lastArrival = Math.max(...arrivals.values());
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
    receiverFailedFirstAttempts: receiver.failedFirst(),
  };
}
