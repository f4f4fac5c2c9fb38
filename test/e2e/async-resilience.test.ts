import os from 'node:os';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob } from '../support/jobs.js';
import proto from '@temporalio/proto';
import { temporalClient, testStack, withDb } from '../support/stack.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { startReceiver } from '../support/webhook-receiver.js';
import { ledgerCheck } from '../support/budget-check.js';
import { createTenant, orgCapUsage, putCap, type Tenant } from '../support/tenants.js';
import { sample, scrape } from '../support/prometheus.js';
import { waitFor } from '../support/wait-for.js';

const counters = async (t: Tenant) => (await orgCapUsage(t.orgId))[0];

// A deployment whose node is slow enough to kill its worker mid-generation, and which allows no
// private webhook targets (the production default). Its first token is 8 s away: with 2.5 s, a test
// process starved by the rest of the suite once noticed the node's request only after the generation
// had finished, and its kill met an idle worker (one attempt in the history, seen on CI). The probers'
// 1-token pings wait for it too: with the test default of 5 s they timed out, no request finished, and
// after three probe timeouts the prober declared the node hung — a retry after the worker's kill then
// found no healthy node and the job failed with its 503 (seen on CI, and beside a CPU hog every other run).
const PROBE_TIMEOUT_MS = '10000';

describe('async jobs under failure', () => {
  let slow: Simulator;
  let genie: IsolatedGenie;
  const messages = [{ role: 'user', content: 'Take your time.' }];

  beforeAll(async () => {
    slow = await startSimulator({ port: 0, models: ['slow-model'], timeToFirstToken: 8000 });
    genie = await startIsolatedGenie({
      nodes: `slow:vllm=${slow.url}`,
      env: { GENIE_WEBHOOK_ALLOW_HOSTS: '', GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,300ms,300ms', GENIE_PROBE_TIMEOUT_MS: PROBE_TIMEOUT_MS },
    });
    // 1 µUSD per token either way, so every booked amount is a token count.
    await api(`/admin/v1/prices/slow-model`, { method: 'PUT', key: testStack().adminToken, body: { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 } });
  });
  afterAll(async () => {
    await genie?.stop();
    await slow?.close();
  });

  it.each([
    ['http://127.0.0.1:9/hook', 'loopback'],
    ['http://localhost:9/hook', 'loopback by name'],
    ['http://[::1]:9/hook', 'IPv6 loopback'],
    ['http://169.254.169.254/latest/meta-data', 'cloud metadata (link-local)'],
    ['http://10.1.2.3/hook', 'private'],
    ['http://192.168.0.10/hook', 'private'],
    ['ftp://example.com/hook', 'non-http scheme'],
  ])('refuses the webhook target %s (%s) with 400 and creates no job', async (url) => {
    const res = await api('/v1/chat/completions', { base: genie.apiUrl, body: { model: 'slow-model', mode: 'async', messages, webhook: { url, secret: 'ssrf-secret' } } });
    expect(res.status).toBe(400);
    expect(res.json.error.param).toBe('webhook.url');
  });

  it('cancels a running job: 200 with status cancelled, the reservation released, idempotent', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000_000);
    const accepted = await api('/v1/chat/completions', { base: genie.apiUrl, key: t.apiKey, body: { model: 'slow-model', mode: 'async', max_tokens: 1000, messages } });
    expect(accepted.status).toBe(202);
    await pollJob(accepted.json.poll_url, (j) => j.status === 'in_progress', { base: genie.apiUrl, key: t.apiKey });
    expect((await counters(t)).reserved).toBeGreaterThan(0);
    const cancelled = await api(`${accepted.json.poll_url}/cancel`, { base: genie.apiUrl, key: t.apiKey, method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json.status).toBe('cancelled');
    // Cancelled during prefill: the prompt is owed, the output reservation is released.
    expect(await counters(t)).toEqual({ spent: estimatePromptTokens(messages), reserved: 0 });
    const again = await api(`${accepted.json.poll_url}/cancel`, { base: genie.apiUrl, key: t.apiKey, method: 'POST' });
    expect(again.json).toEqual(cancelled.json);
    const row = await withDb((db) => db.query('select outcome from usage_records where workflow_id = $1', [accepted.json.id]));
    expect(row.rows).toEqual([{ outcome: 'cancelled' }]);
    const { client, close } = await temporalClient();
    try {
      expect((await client.workflow.getHandle(accepted.json.id).describe()).status.name).toBe('CANCELLED');
    } finally {
      await close();
    }
  });

  it('a worker killed (SIGKILL) while generate is in flight: after restart the job completes and is delivered exactly once', async () => {
    // Loopback is refused in this deployment, so the receiver is reached through an allow-listed alias.
    const receiver = await startReceiver();
    const aliasGenie = await startIsolatedGenie({
      nodes: `slow:vllm=${slow.url}`,
      env: { GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,300ms,300ms', GENIE_PROBE_TIMEOUT_MS: PROBE_TIMEOUT_MS },
    });
    try {
      const t = await createTenant();
      await putCap('org', t.orgId, 'day', 1_000_000_000);
      const received = async () => sample(await scrape(slow.metricsUrl), 'genie_sim_requests_received_total', { model_name: 'slow-model' });
      const receivedBefore = await received();
      const accepted = await api('/v1/chat/completions', {
        base: aliasGenie.apiUrl,
        key: t.apiKey,
        body: { model: 'slow-model', mode: 'async', messages, webhook: { url: receiver.url, secret: 'crash-secret' } },
      });
      expect(accepted.status).toBe(202);
      // Killed mid-`generate`: once the worker runs it and the node has a request (its first token is 8 s
      // away). The node's count alone is not enough: the fleet probers' 1-token pings to the same node
      // count too, and once moved it before the job reached its worker, whose kill then met no
      // activity (one attempt in the history, seen on CI twice).
      const killed = aliasGenie.workers[0].child.pid;
      const { client: watcher, close: closeWatcher } = await temporalClient();
      try {
        const generating = async () =>
          ((await watcher.workflow.getHandle(accepted.json.id).describe()).raw.pendingActivities ?? []).some(
            (a) => a.activityType?.name === 'generate' && a.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && a.lastWorkerIdentity === `${killed}@${os.hostname()}`,
          );
        await waitFor('the worker to run generate', generating, 30_000, 25);
      } finally {
        await closeWatcher();
      }
      await waitFor('the node to receive the request', async () => (await received()) > receivedBefore, 30_000, 25);
      await aliasGenie.restartWorker('SIGKILL');
      const job = await pollJob(accepted.json.poll_url, (j) => j.webhook?.status === 'delivered', { base: aliasGenie.apiUrl, key: t.apiKey, timeoutMs: 100_000 });
      expect(job.status).toBe('completed');
      // The kill landed during `generate`: two attempts in the history, the first on the killed worker,
      // the second on its replacement.
      const { client, close } = await temporalClient();
      try {
        const handle = client.workflow.getHandle(accepted.json.id);
        await handle.result(); // closed: no further delivery can follow
        const events = (await handle.fetchHistory()).events!;
        const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generate').map((e) => String(e.eventId));
        expect(scheduled).toHaveLength(2);
        const startedBy = scheduled.map((id) => events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === id)?.activityTaskStartedEventAttributes?.identity);
        expect(startedBy[0]).toBe(`${killed}@${os.hostname()}`);
        expect(startedBy[1]).toBe(`${aliasGenie.workers[0].child.pid}@${os.hostname()}`);
      } finally {
        await close();
      }
      expect(receiver.received).toHaveLength(1);
      expect(JSON.parse(receiver.received[0].body)).toEqual(job.result);
      const rows = await withDb((db) => db.query('select outcome from usage_records where workflow_id = $1', [accepted.json.id]));
      expect(rows.rows).toEqual([{ outcome: 'completed' }]);
      // The reservation made before the crash was settled once, at the actual usage; nothing leaked.
      // The node's own counts (its template included), not Genie's estimate.
      expect(await counters(t)).toEqual({ spent: job.result!.usage.completion_tokens + job.result!.usage.prompt_tokens, reserved: 0 });
      expect(ledgerCheck().ok).toBe(true);
    } finally {
      await aliasGenie.stop();
      await receiver.close();
    }
  }, 150_000);
});
