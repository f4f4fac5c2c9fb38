import { defaultPayloadConverter } from '@temporalio/common';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob } from '../support/jobs.js';
import { hasFamily, sample, scrape, type Scrape } from '../support/prometheus.js';
import { temporalClient, testStack } from '../support/stack.js';
import { createTenant, putCap } from '../support/tenants.js';
import { startReceiver } from '../support/webhook-receiver.js';

// What ops see of completions: Prometheus metrics from API and worker, JSON logs carrying the
// completion id (and never a credential), and workflows they can filter and read in the Temporal UI.
// One isolated deployment, so its counters and logs belong to this file alone.

const messages = [{ role: 'user', content: 'observe me' }];
const lines: Array<{ source: string; line: string }> = [];
const WEBHOOK_SECRET = `whsec-observability-${Math.random().toString(36).slice(2)}`;

const until = async <T>(what: string, check: () => Promise<T | null | false>, ms = 15_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('operations: metrics, logs and the Temporal UI', () => {
  let refusing: Simulator, healthy: Simulator;
  let genie: IsolatedGenie;
  let apiMetrics: string, workerMetrics: string;
  const base = () => genie.apiUrl;
  const chat = (body: Record<string, unknown>, key = testStack().apiKey) => api('/v1/chat/completions', { base: base(), key, body: { messages, max_tokens: 8, ...body } });

  beforeAll(async () => {
    [refusing, healthy] = await Promise.all([
      startSimulator({ port: 0, models: ['ops-fo'], failureInjectionRate: 100, failureTypes: ['server_error'] }),
      startSimulator({ port: 0, models: ['ops-fo', 'ops-model', 'ops-broken'], failLoadModel: ['ops-broken'] }),
    ]);
    genie = await startIsolatedGenie({
      nodes: `refusing:vllm=${refusing.url},healthy:vllm=${healthy.url}`,
      env: { GENIE_LOG_LEVEL: 'debug', GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,200ms,200ms' },
      onLine: (source, line) => lines.push({ source, line }),
    });
    apiMetrics = `${genie.apiUrl}/metrics`;
    workerMetrics = genie.workers[0].ready.metricsUrl as string;
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([refusing, healthy].map((s) => s?.close().catch(() => undefined)));
  });

  it('API /metrics: requests by mode, model and status, latency, time to first token, budget refusals by layer, node health, Temporal runtime', async () => {
    const before = await scrape(apiMetrics);
    for (let i = 0; i < 3; i++) expect((await chat({ model: 'ops-model' })).status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base()}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
        body: JSON.stringify({ model: 'ops-model', messages, max_tokens: 8, stream: true }),
      });
      expect(await res.text()).toContain('data: [DONE]');
    }
    expect((await chat({ model: 'ops-model', mode: 'async' })).status).toBe(202);
    expect((await chat({ model: `no-such-model-${Date.now()}` })).status).toBe(404);
    const poor = await createTenant();
    await putCap('member', poor.memberId, 'day', 1, base());
    await api('/admin/v1/prices/ops-model', { base: base(), method: 'PUT', key: testStack().adminToken, body: { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 } });
    expect((await chat({ model: 'ops-model' }, poor.apiKey)).status).toBe(402);
    const REFUSED_SYNC = 2; // the 404 and the 402, both refused by admission in this API's workflow task

    const after = await scrape(apiMetrics);
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('genie_requests_total', { mode: 'sync', model: 'ops-model', status: '200' })).toBe(3);
    expect(delta('genie_requests_total', { mode: 'stream', model: 'ops-model', status: '200' })).toBe(2);
    expect(delta('genie_requests_total', { mode: 'async', model: 'ops-model', status: '202' })).toBe(1);
    expect(delta('genie_requests_total', { mode: 'sync', model: 'ops-model', status: '402' })).toBe(1);
    // A model that does not exist never becomes a label.
    expect(delta('genie_requests_total', { model: 'unknown', status: '404' })).toBe(1);
    expect(after.some((s) => s.labels.model?.startsWith('no-such-model'))).toBe(false);
    expect(delta('genie_request_duration_seconds', { mode: 'sync', model: 'ops-model', status: '200' })).toBe(3);
    expect(delta('genie_time_to_first_token_seconds', { model: 'ops-model' })).toBe(2);
    expect(delta('genie_budget_refusals_total', { layer: 'member', window: 'day' })).toBe(1);
    expect(sample(after, 'genie_node_up', { node: 'healthy', state: 'active' })).toBe(1);
    // The API's workflow worker ran the sync and stream completions (`serveHere`, local activities in the
    // workflow tasks it started eagerly): Core's metrics are in the same registry, eager starts counted.
    expect(hasFamily(after, 'temporal_')).toBe(true);
    expect(sample(after, 'temporal_local_activity_execution_latency', { activity_type: 'serveHere' })).toBeGreaterThanOrEqual(5);
    expect(delta('genie_workflow_starts_total', { mode: 'sync', eager: 'true' })).toBeGreaterThanOrEqual(3);
    // The async 202 too: its admission ran in this API's eager workflow task and came back in memory.
    expect(delta('genie_workflow_starts_total', { mode: 'async', eager: 'true' })).toBe(1);
    expect(sample(after, 'genie_workflow_starts_total', { eager: 'false' })).toBe(0);
    // Answered here, the sync and stream completions never asked the server for their workflow's outcome
    // (no long poll); the refused ones did, as soon as their admission (here) failed.
    expect(delta('genie_workflow_outcome_waits_total', { mode: 'stream' })).toBe(0);
    expect(delta('genie_workflow_outcome_waits_total', { mode: 'sync', reason: 'troubled' })).toBe(REFUSED_SYNC);
    expect(delta('genie_workflow_outcome_waits_total', { mode: 'sync', reason: 'not_eager' })).toBe(0);
    expect(sample(after, 'genie_held_callers', {})).toBe(0);
    expect(hasFamily(after, 'process_cpu')).toBe(true);
  });

  it('the deployment’s /metrics (API and worker, summed as Prometheus would): selections and failovers, tokens and completions settled, webhook attempts by outcome', async () => {
    // Workflow tasks run where they land (the API starts sync/stream workflows eagerly, workers take the
    // rest): each event is counted once, in whichever process ran it.
    const scrapeAll = async () => [...(await scrape(apiMetrics)), ...(await scrape(workerMetrics))];
    const before = await scrapeAll();
    const receiver = await startReceiver((n) => (n === 0 ? 503 : 200));
    try {
      const job = await chat({ model: 'ops-model', mode: 'async', webhook: { url: receiver.url, secret: WEBHOOK_SECRET } });
      expect(job.status).toBe(202);
      const bodies = [];
      for (let i = 0; i < 12; i++) {
        const res = await chat({ model: 'ops-fo' });
        expect(res.status).toBe(200);
        bodies.push(res.json as { usage: { prompt_tokens: number; completion_tokens: number } });
      }
      await pollJob(job.json.poll_url, (j) => j.webhook?.status === 'delivered', { base: base() });
      const completionTokens = bodies.reduce((n, b) => n + b.usage.completion_tokens, 0);
      // Settlement runs after the answer: wait until the worker booked all twelve.
      const after = await until('twelve settlements', async () => {
        const s: Scrape = await scrapeAll();
        return sample(s, 'genie_completions_total', { mode: 'sync', model: 'ops-fo', outcome: 'completed' }) - sample(before, 'genie_completions_total', { mode: 'sync', model: 'ops-fo', outcome: 'completed' }) === 12 && s;
      });
      const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
      expect(delta('genie_tokens_total', { model: 'ops-fo', direction: 'out' })).toBe(completionTokens);
      expect(delta('genie_tokens_total', { model: 'ops-fo', direction: 'in' })).toBe(bodies.reduce((n, b) => n + b.usage.prompt_tokens, 0));
      // Every time the refusing node was chosen, the completion failed over to the healthy one.
      expect(delta('genie_node_selections_total', { node: 'healthy', model: 'ops-fo' })).toBe(12);
      expect(delta('genie_failovers_total', { model: 'ops-fo' })).toBe(delta('genie_node_selections_total', { node: 'refusing', model: 'ops-fo' }));
      expect(delta('genie_failovers_total', { model: 'ops-fo' })).toBeGreaterThan(0);
      expect(delta('genie_webhook_attempts_total', { outcome: 'rejected' })).toBe(1);
      expect(delta('genie_webhook_attempts_total', { outcome: 'delivered' })).toBe(1);
      expect(sample(after, 'temporal_workflow_completed', {})).toBeGreaterThan(0);
    } finally {
      await receiver.close();
    }
  });

  it('logs: JSON lines with the completion id from the API, the workflow and the activities — and never a credential', async () => {
    const res = await chat({ model: 'ops-model' });
    expect(res.status).toBe(200);
    const id = res.json.id as string;
    const records = await until('the completion’s workflow and activity lines', async () => {
      const parsed = lines.filter((l) => l.line.includes(id)).map((l): Record<string, unknown> => ({ source: l.source, ...(JSON.parse(l.line) as Record<string, unknown>) }));
      return parsed.some((r) => r.temporal === 'workflow' && /completion completed/.test(String(r.msg))) && parsed;
    });
    const of = (pred: (r: Record<string, unknown>) => boolean) => records.filter((r) => r.completionId === id && pred(r));
    expect(of((r) => r.source === 'api' && r.req !== undefined && (r.res as { statusCode?: number })?.statusCode === 200)).toHaveLength(1); // the access line
    expect(of((r) => r.temporal === 'workflow').length).toBeGreaterThanOrEqual(1);
    expect(of((r) => r.temporal === 'activity' && r.msg === 'node answered')).toHaveLength(1);
    expect(of((r) => r.temporal === 'activity' && r.msg === 'usage settled')).toHaveLength(1);
    // Every line about a completion names it the same way.
    for (const l of lines) {
      if (!l.line.startsWith('{')) continue;
      const r = JSON.parse(l.line) as { workflowId?: string; completionId?: string };
      if (r.workflowId?.startsWith('chatcmpl-')) expect(r.completionId).toBe(r.workflowId);
    }
    // Credentials used against this deployment: the API keys, the admin token, a webhook secret.
    const secrets = [testStack().apiKey, testStack().adminToken, WEBHOOK_SECRET];
    expect(lines.length).toBeGreaterThan(100);
    for (const s of secrets) expect(lines.filter((l) => l.line.includes(s))).toEqual([]);
    expect(lines.filter((l) => /sk-genie-[A-Za-z0-9]{8,}/.test(l.line))).toEqual([]);
    // The authorization header is logged, censored — not merely absent.
    expect(lines.some((l) => l.line.includes('"authorization":"[redacted]"'))).toBe(true);
  });

  it('Temporal UI: search attributes filter completions; summaries and details read without opening payloads', async () => {
    const me = (await api('/v1/me', { base: base() })).json as { org_id: string };
    const ok = await chat({ model: 'ops-model' });
    const failed = await chat({ model: 'ops-broken' });
    expect(failed.status).toBe(500);
    // Every answer, an error too, names its completion: the id ops look up.
    const failedId = failed.headers.get('x-genie-completion-id')!;
    expect(failedId).toMatch(/^chatcmpl-/);
    expect(ok.headers.get('x-genie-completion-id')).toBe(ok.json.id);
    const { client, close } = await temporalClient();
    try {
      const list = async (query: string) => {
        const ids: string[] = [];
        for await (const w of client.workflow.list({ query })) ids.push(w.workflowId);
        return ids;
      };
      await until('visibility to index the completed workflow', async () =>
        (await list(`GenieModel = "ops-model" AND GenieStatus = "completed" AND GenieMode = "sync" AND GenieNode = "healthy" AND GenieOrgId = "${me.org_id}"`)).includes(ok.json.id),
      );
      await until('visibility to index the failed workflow', async () => (await list(`GenieModel = "ops-broken" AND GenieStatus = "failed"`)).includes(failedId));

      const desc = await client.workflow.getHandle(ok.json.id).describe();
      const summary = await desc.staticSummary();
      expect(summary).toContain('sync');
      expect(summary).toContain('ops-model');
      expect(summary).toContain(me.org_id);
      expect(summary).toMatch(/~\d+ prompt tokens, max 8/);
      expect(await desc.staticDetails()).toContain('application');
      const meta = (await client.workflow.getHandle(ok.json.id).query('__temporal_workflow_metadata')) as { currentDetails?: string };
      expect(meta.currentDetails).toContain('**completed** on `healthy`');
      expect(meta.currentDetails).toContain(`${ok.json.usage.completion_tokens} out`);

      const history = await client.workflow.getHandle(ok.json.id).fetchHistory();
      // Started eagerly: the API that took the request ran its first workflow task (no dispatch).
      const firstTask = history.events!.find((e) => e.workflowTaskStartedEventAttributes)!;
      expect(firstTask.workflowTaskStartedEventAttributes!.identity).toMatch(new RegExp(`^${genie.apis[0].child.pid}@`));
      // Local activities (history markers) carry summaries too.
      const markers = history.events!.filter((e) => e.markerRecordedEventAttributes && e.userMetadata?.summary).map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary!));
      // Admission and the node call were one step in the API holding the caller, which settled there
      // (the node and the tokens: the current details above).
      expect(markers).toEqual(['admit: pick a node for `ops-model`, reserve the budget; then sync on that node, in the API holding the caller']);

      const failedMeta = (await client.workflow.getHandle(failedId).query('__temporal_workflow_metadata')) as { currentDetails?: string };
      expect(failedMeta.currentDetails).toMatch(/\*\*failed\*\*.*model failed to load/s);
    } finally {
      await close();
    }

  });
});
