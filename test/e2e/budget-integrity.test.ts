import { startSimulator, type Simulator } from '../../simulator/server.js';
import { ledgerCheck } from '../support/budget-check.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { pollJob } from '../support/jobs.js';
import { sample, scrape } from '../support/prometheus.js';
import { temporalClient, testStack, withDb } from '../support/stack.js';
import { awayFromWindowReset, createTenant, putCap } from '../support/tenants.js';

// Budgets nobody can beat (issue 15): no free inference through an expired Idempotency-Key, none
// through a model nobody priced.

describe('budget integrity', () => {
  let sim: Simulator;
  let liar: Simulator;
  let genie: IsolatedGenie;
  const lines: string[] = [];
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${testStack().apiUrl}/admin/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['priced-model', 'unpriced-model', 'free-model'] });
    // A node whose usage claims 5,000 prompt tokens more than it was sent: more than any bound allows.
    liar = await startSimulator({ port: 0, models: ['lying-model'], overReportPromptTokens: 5000 });
    // Keys live one second here, and no model is free unless marked so.
    genie = await startIsolatedGenie({ nodes: `n:vllm=${sim.url},liar:vllm=${liar.url}`, onLine: (_, line) => lines.push(line), env: { GENIE_IDEMPOTENCY_TTL_HOURS: String(1 / 3600), GENIE_FREE_MODELS: '' } });
    for (const model of ['priced-model', 'lying-model']) expect((await admin('PUT', `/prices/${model}`, { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 })).status).toBe(200);
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([sim, liar].map((s) => s?.close()));
  });
  const chat = (key: string, model: string, body: Record<string, unknown> = {}, idempotencyKey?: string) =>
    fetch(`${genie.apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
      body: JSON.stringify({ model, max_tokens: 3, messages: [{ role: 'user', content: 'hello' }], ...body }),
    }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));

  it('an Idempotency-Key names one job while it lives; after it, the same key is a new completion, gated like any other', async () => {
    await awayFromWindowReset();
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000);
    const first = await chat(t.apiKey, 'priced-model', {}, 'order-42');
    expect(first.status).toBe(200);
    const again = await chat(t.apiKey, 'priced-model', {}, 'order-42');
    expect(again.json.id).toBe(first.json.id); // within its lifetime: the same job, the same body
    expect(again.json).toEqual(first.json);

    // The cap is now spent to the last µUSD.
    const spent = async () => Number((await withDb((db) => db.query(`select coalesce(sum(spent_micro_usd), 0) as s from cap_usage where layer = 'org' and subject_id = $1`, [t.orgId]))).rows[0].s);
    await putCap('org', t.orgId, 'day', await spent());
    // Waits until the key is past its lifetime, by the database's clock.
    const keyExpired = async () => {
      const end = Date.now() + 30_000;
      for (;;) {
        const live = await withDb((db) => db.query(`select count(*)::int as n from idempotency_keys where org_id = $1 and created_at > now() - interval '1 second'`, [t.orgId]));
        if (live.rows[0].n === 0) return;
        if (Date.now() > end) throw new Error('the key never expired');
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await keyExpired();
    const expired = await chat(t.apiKey, 'priced-model', {}, 'order-42');
    expect(expired.status).toBe(402);
    expect(expired.json.capLayer).toBe('org');

    // That refusal is the key's answer while it lives (as any keyed answer is); once it expires and
    // the cap has room again, the key runs a new completion of its own.
    expect((await chat(t.apiKey, 'priced-model', {}, 'order-42')).status).toBe(402);
    await keyExpired();
    await putCap('org', t.orgId, 'day', 1_000_000);
    const fresh = await chat(t.apiKey, 'priced-model', {}, 'order-42');
    expect(fresh.status).toBe(200);
    expect(fresh.json.id).not.toBe(first.json.id); // its own job, ledger, secret and stream record
    const ledger = await withDb((db) => db.query(`select distinct workflow_id from budget_ledger where workflow_id = any($1) and step = 'settle'`, [[first.json.id, fresh.json.id]]));
    expect(ledger.rows.map((r) => r.workflow_id).sort()).toEqual([first.json.id, fresh.json.id].sort());
    expect(ledgerCheck().ok).toBe(true);
  });

  it('a workflow id started again (Temporal forgot it, or a reset) is a new run, reserved and gated from nothing: never free', async () => {
    await awayFromWindowReset();
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000);
    const accepted = await chat(t.apiKey, 'priced-model', { mode: 'async' });
    expect(accepted).toMatchObject({ status: 202 }); // on failure, shows the body
    expect((await pollJob(accepted.json.poll_url, undefined, { key: t.apiKey, base: genie.apiUrl })).status).toBe('completed');
    const spent = async () => Number((await withDb((db) => db.query(`select coalesce(sum(spent_micro_usd), 0) as s from cap_usage where layer = 'org' and subject_id = $1`, [t.orgId]))).rows[0].s);
    const afterFirst = await spent();
    expect(afterFirst).toBeGreaterThan(0);
    await putCap('org', t.orgId, 'day', afterFirst); // spent to the last µUSD

    // What Temporal does once retention has passed: the same workflow id, the same input, a new run.
    const { client, close } = await temporalClient();
    try {
      const first = client.workflow.getHandle(accepted.json.id);
      const firstRunId = (await first.describe()).runId;
      const started = (await first.fetchHistory()).events![0].workflowExecutionStartedEventAttributes!;
      const input = client.options.loadedDataConverter.payloadConverter.fromPayload(started.input!.payloads![0]);
      const runAgain = () =>
        client.workflow.start('chatCompletion', { workflowId: accepted.json.id, taskQueue: started.taskQueue!.name!, args: [input], workflowIdReusePolicy: 'ALLOW_DUPLICATE' });
      // The first run's ledger rows do not make the second one "already reserved": the cap refuses it.
      const second = await runAgain();
      await expect(second.result()).rejects.toThrow();
      const refusal = await second.describe();
      expect(refusal.status.name).toBe('FAILED');
      expect(JSON.stringify((await second.fetchHistory()).events!.at(-1)?.workflowExecutionFailedEventAttributes?.failure)).toMatch(/402|budget/i);
      expect(await spent()).toBe(afterFirst);

      // With room again, another run is admitted and billed like any completion: its own ledger rows.
      await putCap('org', t.orgId, 'day', 1_000_000);
      const third = await runAgain();
      await third.result();
      expect(await spent()).toBe(afterFirst * 2);
      const runs = await withDb((db) => db.query(`select run_id, step from budget_ledger where workflow_id = $1 and layer = 'org' order by created_at, step`, [accepted.json.id]));
      expect(runs.rows).toEqual([
        { run_id: firstRunId, step: 'reserve' },
        { run_id: firstRunId, step: 'settle' },
        { run_id: third.firstExecutionRunId, step: 'reserve' },
        { run_id: third.firstExecutionRunId, step: 'settle' },
      ]);
      const usage = await withDb((db) => db.query(`select count(*)::int as n from usage_records where workflow_id = $1`, [accepted.json.id]));
      expect(usage.rows[0].n).toBe(2);
    } finally {
      await close();
    }
    expect(ledgerCheck().ok).toBe(true);
  });

  it('a node that reports more than the reservation allowed is booked in full, counted, logged and shown on the node', async () => {
    await awayFromWindowReset();
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000);
    const res = await chat(t.apiKey, 'lying-model');
    expect(res.status).toBe(200);
    const row = (await withDb((db) => db.query(`select node, cost_micro_usd::int as cost, reserved_micro_usd::int as reserved from usage_records where workflow_id = $1`, [res.json.id]))).rows[0];
    // Booked at what the node reported (1 µUSD a token), past what was reserved for it.
    expect(row.cost).toBe(res.json.usage.prompt_tokens + res.json.usage.completion_tokens);
    expect(row.cost).toBeGreaterThan(row.reserved);
    const spent = await withDb((db) => db.query(`select spent_micro_usd::int as spent from cap_usage where layer = 'org' and subject_id = $1`, [t.orgId]));
    expect(spent.rows[0].spent).toBe(row.cost);
    // The API that held the caller settled it: its metric counts the overshoot on the node's label.
    const metrics = await scrape(genie.apis[0].ready.metricsUrl as string);
    expect(sample(metrics, 'genie_budget_overshoot_micro_usd_total', { node: 'liar', model: 'lying-model' })).toBe(row.cost - row.reserved);
    expect(lines.some((l) => l.includes('settled above the reservation') && l.includes(res.json.id))).toBe(true);
    // And ops see it on the node in the admin API, beside the honest node's clean record.
    const nodes = (await (await fetch(`${genie.apiUrl}/admin/v1/nodes`, { headers: { authorization: `Bearer ${testStack().adminToken}` } })).json()) as { data: Array<{ name: string; overshoot: unknown }> };
    expect(Object.fromEntries(nodes.data.map((n) => [n.name, n.overshoot]))).toEqual({
      liar: { completions: 1, microUsd: row.cost - row.reserved, sinceHours: 24 },
      n: { completions: 0, microUsd: 0, sinceHours: 24 },
    });
    expect(ledgerCheck().ok).toBe(true);
  });

  it('a model nobody priced is refused at admission; an admin marks it free explicitly with a 0/0 price', async () => {
    const t = await createTenant();
    const refused = await chat(t.apiKey, 'unpriced-model');
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'model_not_priced', param: 'model', type: 'invalid_request_error' });
    const jobs = await withDb((db) => db.query(`select count(*)::int as n from budget_ledger l join usage_records u using (workflow_id, run_id) where u.org_id = $1 and u.outcome = 'completed'`, [t.orgId]));
    expect(jobs.rows[0].n).toBe(0);

    expect((await admin('PUT', '/prices/free-model', { inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 0 })).status).toBe(200);
    expect((await chat(t.apiKey, 'free-model')).status).toBe(200);
  });
});
