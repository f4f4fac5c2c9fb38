import { randomBytes } from 'node:crypto';
import proto from '@temporalio/proto';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startDnsServer } from '../support/dns-server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob, type Job } from '../support/jobs.js';
import { temporalClient } from '../support/stack.js';
import { startReceiver } from '../support/webhook-receiver.js';

// Webhook delivery against hostile receivers and hostile DNS, end to end: a deployment whose webhook
// resolver asks a DNS server this test runs. Every receiver listens on loopback; the allow-listed name
// `hooks.test` (resolved to 127.0.0.1 by that server) is how a test reaches one, so loopback by any
// other name or address stays refused, as in production.

const TIMEOUT_MS = 1000;
const SCHEDULE_MS = [0, 300, 2000];
/** A public address the request-time check may see; nothing ever connects to it. */
const PUBLIC = '93.184.216.34';


/**
 * The receiver saw the job's attempts: at least `n` requests, all of one delivery (one webhook-id).
 * Webhooks are at-least-once: on a loaded machine a workflow task that ran an attempt can time out
 * before it was recorded and run again, which the receiver sees as a duplicate (same webhook-id).
 */
function expectAttempts(received: Array<{ headers: Record<string, unknown> }>, n: number) {
  expect(received.length).toBeGreaterThanOrEqual(n);
  expect(new Set(received.map((r) => r.headers['webhook-id'])).size).toBe(1);
}

describe('webhook delivery under hostile receivers and DNS', () => {
  let fast: Simulator;
  let slow: Simulator;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  let genie: IsolatedGenie;
  const messages = [{ role: 'user', content: 'Hook me.' }];
  const submit = (webhook: { url: string; secret: string }, model = 'hook-model') =>
    api('/v1/chat/completions', { base: genie.apiUrl, body: { model, mode: 'async', messages, webhook } });
  const poll = (pollUrl: string, done: Parameters<typeof pollJob>[1]) => pollJob(pollUrl, done, { base: genie.apiUrl });
  const viaHooksName = (url: string) => url.replace('127.0.0.1', 'hooks.test');
  const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
  /** The webhook's outcome is final (delivered or failed), whichever it is. */
  const webhookSettled = (j: Job) => j.webhook !== undefined && j.webhook.status !== 'pending';

  beforeAll(async () => {
    dns = await startDnsServer(({ name, n }) => {
      if (name === 'hooks.test') return ['127.0.0.1'];
      // DNS rebinding: the first answer (the API's request-time check) is public, every later one
      // (the worker, connecting) is loopback.
      if (name.startsWith('rebind-')) return n === 0 ? [PUBLIC] : ['127.0.0.1'];
      return null;
    });
    [fast, slow] = await Promise.all([
      startSimulator({ port: 0, models: ['hook-model'] }),
      startSimulator({ port: 0, models: ['slow-hook-model'], timeToFirstToken: 3000 }),
    ]);
    genie = await startIsolatedGenie({
      nodes: `fast:vllm=${fast.url},slow:vllm=${slow.url}`,
      env: {
        GENIE_WEBHOOK_ALLOW_HOSTS: 'hooks.test',
        GENIE_WEBHOOK_DNS_SERVERS: dns.server,
        GENIE_WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
        GENIE_WEBHOOK_RETRY_SCHEDULE: SCHEDULE_MS.map((ms) => `${ms}ms`).join(','),
      },
    });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([fast?.close(), slow?.close(), dns?.close()]);
  });

  it('a host that passed the request-time check but resolves to loopback at delivery is refused (DNS rebinding)', async () => {
    const receiver = await startReceiver();
    try {
      const name = `${unique('rebind')}.test`;
      const accepted = await submit({ url: receiver.url.replace('127.0.0.1', name), secret: 'rebind-secret' });
      expect(accepted.status).toBe(202); // the API saw the public address
      const job = await poll(accepted.json.poll_url, webhookSettled);
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: SCHEDULE_MS.length, last_status_code: null, last_error: expect.stringContaining('EWEBHOOKBLOCKED') });
      expect(receiver.received).toHaveLength(0);
      // One answer for the API, then one per attempt, each loopback.
      expect(dns.queries.filter((q) => q.name === name && q.type === 'A').length).toBeGreaterThanOrEqual(1 + SCHEDULE_MS.length);
    } finally {
      await receiver.close();
    }
  });

  it('a receiver redirecting to a private address is not followed: the 3xx is a failed attempt', async () => {
    const target = await startReceiver();
    const redirecting = await startReceiver(() => ({ status: 307, headers: { location: target.url } }));
    try {
      const accepted = await submit({ url: viaHooksName(redirecting.url), secret: 'redirect-secret' });
      expect(accepted.status).toBe(202);
      const job = await poll(accepted.json.poll_url, webhookSettled);
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: SCHEDULE_MS.length, last_status_code: 307, last_error: 'receiver answered 307' });
      expectAttempts(redirecting.received, SCHEDULE_MS.length);
      expect(target.received).toHaveLength(0);
    } finally {
      await Promise.all([redirecting.close(), target.close()]);
    }
  });

  it('reads only the start of an endless response body: the attempt is delivered and the socket closed', async () => {
    const receiver = await startReceiver(() => ({ status: 200, endless: true }));
    try {
      const accepted = await submit({ url: viaHooksName(receiver.url), secret: 'endless-secret' });
      const job = await poll(accepted.json.poll_url, webhookSettled);
      expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200, last_error: null });
      expectAttempts(receiver.received, 1);
      await receiver.until((r) => r[0].cutAt !== null); // Genie hung up on the endless answer
    } finally {
      await receiver.close();
    }
  });

  it('a receiver slower than GENIE_WEBHOOK_TIMEOUT_MS is cut at that timeout and retried on the schedule', async () => {
    // It would answer 200, three timeouts late: a client that waited for it would call it delivered.
    const receiver = await startReceiver(() => ({ status: 200, delayMs: 3 * TIMEOUT_MS }));
    try {
      const accepted = await submit({ url: viaHooksName(receiver.url), secret: 'slow-secret' });
      const job = await poll(accepted.json.poll_url, webhookSettled);
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: SCHEDULE_MS.length, last_status_code: null, last_error: expect.stringMatching(/^ETIMEDOUT: Timeout awaiting 'request'/) });
      expectAttempts(receiver.received, SCHEDULE_MS.length);
      // Every attempt was cut before the receiver's late 200 (else `cutAt` is null), and none early:
      // the timeout runs from the start of the request (its DNS lookup and connect included, which a
      // busy machine can stretch), so half of it is the lower bound that holds on any machine.
      for (const [i, r] of receiver.received.slice(0, SCHEDULE_MS.length).entries()) {
        expect(r.cutAt).not.toBeNull();
        expect(r.cutAt! - r.at).toBeGreaterThanOrEqual(TIMEOUT_MS / 2);
        if (i > 0) expect(r.at - receiver.received[i - 1].at).toBeGreaterThanOrEqual(TIMEOUT_MS / 2 + SCHEDULE_MS[i]);
      }
    } finally {
      await receiver.close();
    }
  });

  it('spaces the attempts as GENIE_WEBHOOK_RETRY_SCHEDULE says, each no earlier than its delay after the one before', async () => {
    const receiver = await startReceiver(() => 503);
    try {
      const accepted = await submit({ url: viaHooksName(receiver.url), secret: 'spacing-secret' });
      const job = await poll(accepted.json.poll_url, webhookSettled);
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: SCHEDULE_MS.length, last_status_code: 503 });
      const at = receiver.received.map((r) => r.at);
      expectAttempts(receiver.received, SCHEDULE_MS.length);
      // Attempt n+1's durable timer starts after attempt n's answer, which the receiver sent after `at`.
      for (let i = 1; i < SCHEDULE_MS.length; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(SCHEDULE_MS[i]);
    } finally {
      await receiver.close();
    }
  });

  it('a job cancelled before it finished gets no webhook', async () => {
    const receiver = await startReceiver();
    const { client, close } = await temporalClient();
    try {
      const accepted = await submit({ url: viaHooksName(receiver.url), secret: 'cancel-secret' }, 'slow-hook-model');
      expect(accepted.status).toBe(202);
      await poll(accepted.json.poll_url, (j) => j.status === 'in_progress');
      const cancelled = await api(`${accepted.json.poll_url}/cancel`, { base: genie.apiUrl, method: 'POST' });
      expect(cancelled.json.status).toBe('cancelled');
      // Once the workflow is closed nothing more can be sent: the receiver's count is final.
      await expect(client.workflow.getHandle(accepted.json.id).result()).rejects.toThrow();
      expect((await client.workflow.getHandle(accepted.json.id).describe()).status.name).toBe('CANCELLED');
      expect(receiver.received).toHaveLength(0);
    } finally {
      await close();
      await receiver.close();
    }
  });

  it('the webhook secret appears nowhere in the workflow history, across retried attempts', async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const plain = unique('plain-secret-never-in-history');
    const receiver = await startReceiver((n) => (n % 2 === 0 ? 500 : 200));
    const { client, close } = await temporalClient();
    try {
      for (const s of [secret, plain]) {
        const accepted = await submit({ url: viaHooksName(receiver.url), secret: s });
        expect(accepted.status).toBe(202);
        const handle = client.workflow.getHandle(accepted.json.id);
        await handle.result();
        const job = await poll(accepted.json.poll_url, webhookSettled);
        expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 2 });
        // Every payload (input, results, markers, memo, search attributes, failures) is bytes inside
        // the encoded history: a secret in any of them would appear there verbatim.
        const history = Buffer.from(proto.temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
        expect(history.includes(Buffer.from(viaHooksName(receiver.url)))).toBe(true); // the search does find payload text
        expect(history.includes(Buffer.from(s))).toBe(false);
        expect(history.includes(Buffer.from(s.replace(/^whsec_/, '')))).toBe(false);
        expect(history.includes(Buffer.from(Buffer.from(s).toString('base64')))).toBe(false);
      }
      // The receiver did get signed deliveries, so the secret was used.
      expect(receiver.received.filter((r) => r.status === 200).every((r) => typeof r.headers['webhook-signature'] === 'string')).toBe(true);
    } finally {
      await close();
      await receiver.close();
    }
  });
});
