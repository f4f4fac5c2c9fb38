import { sendGenie, type GenieRefs } from '../genie-client.js';
import { pct, round } from '../stats.js';
import { startWebhookReceiver } from '../webhook-receiver.js';

// Async jobs at fixed open-loop rates: each request is fired on its schedule whatever the earlier ones
// are doing, so a 202 that waits on a busy process shows as latency (the closed loop in async-jobs.ts
// hides that by slowing down). Between rates every webhook of the step is awaited, so one step's
// backlog never lands in the next. Jobs/s is webhooks delivered per second from the step's first send
// to its last arrival: what the stack sustains when offered that rate.

export interface AsyncRatePoint {
  rate: number;
  sent: number;
  errors: number;
  acceptP50: number;
  acceptP99: number;
  acceptToWebhookP50: number;
  acceptToWebhookP99: number;
  jobsPerSecond: number;
  webhooksDeliveredFraction: number;
}

export async function asyncRatesScenario(genie: GenieRefs, rates: number[], seconds: number) {
  const receiver = await startWebhookReceiver();
  const points: AsyncRatePoint[] = [];
  let genieRequests = 0;
  try {
    for (const rate of rates) {
      const total = Math.round(rate * seconds);
      const accepted = new Map<string, number>();
      const acceptMs: number[] = [];
      let errors = 0;
      const t0 = performance.now();
      const inflight: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const wait = t0 + (i * 1000) / rate - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        const sentAt = performance.now();
        inflight.push(
          sendGenie(genie, 'async', `rate ${rate} ${i}`, receiver.url).then(
            (a) => {
              if (a.status !== 202 || !a.id) return void errors++;
              accepted.set(a.id, sentAt);
              acceptMs.push(a.ms);
            },
            () => void errors++,
          ),
        );
      }
      await Promise.all(inflight);
      genieRequests += total;
      await receiver.waitFor(accepted.keys());
      const arrived = [...accepted].filter(([id]) => receiver.arrivals.has(id));
      const toWebhook = arrived.map(([id, sentAt]) => receiver.arrivals.get(id)! - sentAt);
      const last = Math.max(...arrived.map(([id]) => receiver.arrivals.get(id)!));
      points.push({
        rate,
        sent: total,
        errors,
        acceptP50: pct(acceptMs, 50),
        acceptP99: pct(acceptMs, 99),
        acceptToWebhookP50: pct(toWebhook, 50),
        acceptToWebhookP99: pct(toWebhook, 99),
        jobsPerSecond: round(arrived.length / ((last - t0) / 1000)),
        webhooksDeliveredFraction: round(arrived.length / total),
      });
    }
  } finally {
    await receiver.close();
  }
  return { seconds, rates, points, genieRequests };
}
