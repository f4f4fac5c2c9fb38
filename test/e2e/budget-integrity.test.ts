import { startSimulator, type Simulator } from '../../simulator/server.js';
import { ledgerCheck } from '../support/budget-check.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { testStack, withDb } from '../support/stack.js';
import { awayFromWindowReset, createTenant, putCap } from '../support/tenants.js';

// Budgets nobody can beat (issue 15): no free inference through an expired Idempotency-Key, none
// through a model nobody priced.

describe('budget integrity', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  const admin = (method: string, path: string, body?: unknown) =>
    fetch(`${testStack().apiUrl}/admin/v1${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['priced-model', 'unpriced-model', 'free-model'] });
    // Keys live one second here, and no model is free unless marked so.
    genie = await startIsolatedGenie({ nodes: `n:vllm=${sim.url}`, env: { GENIE_IDEMPOTENCY_TTL_HOURS: String(1 / 3600), GENIE_FREE_MODELS: '' } });
    expect((await admin('PUT', '/prices/priced-model', { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 })).status).toBe(200);
  });
  afterAll(async () => {
    await genie?.stop();
    await sim?.close();
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

  it('a model nobody priced is refused at admission; an admin marks it free explicitly with a 0/0 price', async () => {
    const t = await createTenant();
    const refused = await chat(t.apiKey, 'unpriced-model');
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'model_not_priced', param: 'model', type: 'invalid_request_error' });
    const jobs = await withDb((db) => db.query(`select count(*)::int as n from budget_ledger l join usage_records u using (workflow_id) where u.org_id = $1 and u.outcome = 'completed'`, [t.orgId]));
    expect(jobs.rows[0].n).toBe(0);

    expect((await admin('PUT', '/prices/free-model', { inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 0 })).status).toBe(200);
    expect((await chat(t.apiKey, 'free-model')).status).toBe(200);
  });
});
