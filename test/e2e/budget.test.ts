import OpenAI from 'openai';
import { api, pollJob } from '../support/jobs.js';
import { ledgerCheck } from '../support/budget-check.js';
import { testStack, withDb } from '../support/stack.js';
import { awayFromWindowReset, createTenant, putCap } from '../support/tenants.js';

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${testStack().apiUrl}/admin/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
};
const messages = [{ role: 'user', content: 'What will this cost?' }];
const usageOf = async (layer: string, subjectId: string, window: string) =>
  (await admin('GET', `/usage?${new URLSearchParams({ layer, subjectId, window })}`)).json;

describe('admin API and identity', () => {
  it('creates an org, user, member, application and key; the key works and /v1/me names its ids', async () => {
    const org = await admin('POST', '/orgs', { name: `acme-${Date.now()}` });
    const user = await admin('POST', '/users', { email: `dev-${Date.now()}@acme.test` });
    expect([org.status, user.status]).toEqual([201, 201]);
    const member = await admin('POST', `/orgs/${org.json.id}/members`, { userId: user.json.id, role: 'admin' });
    const app = await admin('POST', `/orgs/${org.json.id}/applications`, { name: 'chatbot' });
    const key = await admin('POST', `/applications/${app.json.id}/keys`, { memberId: member.json.id });
    expect(key.status).toBe(201);
    expect(key.json.key).toMatch(/^sk-genie-[0-9A-Za-z]{32,}$/);
    const me = await api('/v1/me', { key: key.json.key });
    expect(me.json).toEqual({ object: 'api_key', key_id: key.json.id, org_id: org.json.id, application_id: app.json.id, member_id: member.json.id, user_id: user.json.id });
    // The key is stored only as a hash.
    const stored = await withDb((db) => db.query('select key_hash, prefix from api_keys where id = $1', [key.json.id]));
    expect(stored.rows[0].key_hash).not.toContain(key.json.key.slice(9));
    expect(JSON.stringify(stored.rows[0])).not.toContain(key.json.key);
  });

  it('validates admin bodies and maps unknown ids and duplicates', async () => {
    expect((await admin('PUT', '/caps', { layer: 'galaxy', subjectId: 'x', window: 'day', limitMicroUsd: 1 })).json.error.param).toBe('layer');
    expect((await admin('PUT', '/caps', { layer: 'org', subjectId: 'x', window: 'day', limitMicroUsd: -1 })).json.error.param).toBe('limitMicroUsd');
    expect((await admin('POST', '/orgs/org_nope/applications', { name: 'x' })).status).toBe(404);
    const name = `dup-${Date.now()}`;
    await admin('POST', '/orgs', { name });
    expect((await admin('POST', '/orgs', { name })).status).toBe(409);
    expect((await admin('DELETE', '/caps?layer=org&subjectId=none&window=day')).status).toBe(404);
  });
});

describe('budget gating through the API', () => {
  // Exact spend is asserted below: never across an hourly (daily, monthly) reset.
  beforeEach(() => awayFromWindowReset(), 60_000);

  it('402 with the seed’s fields, OpenAI’s envelope and Retry-After — in every mode, before any byte of a stream, with no job left behind', async () => {
    const t = await createTenant();
    await putCap('member', t.memberId, 'day', 1); // any request costs more than 1 µUSD
    const sdkErr = await new OpenAI({ baseURL: `${testStack().apiUrl}/v1`, apiKey: t.apiKey, maxRetries: 0 }).chat.completions
      .create({ model: 'qwen3:0.6b', messages: messages as never })
      .catch((e) => e);
    expect(sdkErr).toBeInstanceOf(OpenAI.APIError);
    expect(sdkErr.status).toBe(402);
    expect(sdkErr.code).toBe('budget-cap-hit');
    expect(sdkErr.type).toBe('insufficient_quota');

    for (const extra of [{}, { stream: true }, { mode: 'async' }]) {
      const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
        body: JSON.stringify({ model: 'qwen3:0.6b', messages, ...extra }),
      });
      expect(res.status).toBe(402);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const resetsAt = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() + 1)).toISOString();
      const body = await res.json();
      expect(body).toEqual({
        code: 'budget-cap-hit',
        capLayer: 'member',
        capWindow: 'day',
        resetsAt,
        error: { message: expect.stringContaining('member day cap'), type: 'insufficient_quota', code: 'budget-cap-hit', param: null },
      });
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(86_400);
    }
    const jobs = await withDb((db) => db.query('select count(*)::int as n from jobs where org_id = $1', [t.orgId]));
    expect(jobs.rows[0].n).toBe(0);
    expect(await usageOf('member', t.memberId, 'day')).toMatchObject({ spentMicroUsd: 0, reservedMicroUsd: 0, limitMicroUsd: 1 });
  });

  it('carries the tightest cap’s remaining budget in headers on sync, stream and 202 answers', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'month', 50_000_000);
    await putCap('application', t.applicationId, 'hour', 5_000_000);
    for (const extra of [{}, { stream: true }, { mode: 'async' }]) {
      const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
        body: JSON.stringify({ model: 'qwen3:0.6b', messages, max_tokens: 10, ...extra }),
      });
      expect([200, 202]).toContain(res.status);
      const remaining = Number(res.headers.get('x-genie-budget-remaining'));
      expect(Number.isInteger(remaining)).toBe(true);
      expect(remaining).toBeLessThan(5_000_000);
      expect(remaining).toBeGreaterThan(4_900_000);
      const hourEnd = new Date();
      hourEnd.setUTCMinutes(60, 0, 0);
      expect(res.headers.get('x-genie-budget-resets-at')).toBe(hourEnd.toISOString());
      await res.text();
    }
  });

  it('settles the actual cost at the model’s price and releases the rest of the reservation', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 10_000_000);
    const res = await api('/v1/chat/completions', { key: t.apiKey, body: { model: 'qwen3:8b', messages, max_tokens: 1000 } });
    expect(res.status).toBe(200);
    const { prompt_tokens, completion_tokens } = res.json.usage;
    const expected = Math.ceil((prompt_tokens * 200_000 + completion_tokens * 600_000) / 1_000_000); // dev price of qwen3:8b
    const end = Date.now() + 10_000;
    let usage = await usageOf('org', t.orgId, 'day');
    while (usage.reservedMicroUsd !== 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      usage = await usageOf('org', t.orgId, 'day');
    }
    expect(usage).toMatchObject({ spentMicroUsd: expected, reservedMicroUsd: 0, limitMicroUsd: 10_000_000 });
    const record = await withDb((db) => db.query('select cost_micro_usd::int as cost from usage_records where workflow_id = $1', [res.json.id]));
    expect(record.rows[0].cost).toBe(expected);
  });

  it('a node failure releases the whole reservation and books nothing', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 10_000_000);
    expect((await admin('PUT', `/prices/${encodeURIComponent('broken:latest')}`, { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 })).status).toBe(200);
    const accepted = await api('/v1/chat/completions', { key: t.apiKey, body: { model: 'broken:latest', mode: 'async', messages } });
    expect(Number(accepted.headers.get('x-genie-budget-remaining'))).toBeLessThan(10_000_000); // it was reserved
    const job = await pollJob(accepted.json.poll_url, undefined, { key: t.apiKey });
    expect(job.status).toBe('failed');
    expect(await usageOf('org', t.orgId, 'day')).toMatchObject({ spentMicroUsd: 0, reservedMicroUsd: 0 });
  });

  it('caps can be removed again, and the ledger agrees with every counter', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1);
    expect((await api('/v1/chat/completions', { key: t.apiKey, body: { model: 'qwen3:0.6b', messages } })).status).toBe(402);
    expect((await admin('DELETE', `/caps?layer=org&subjectId=${t.orgId}&window=day`)).status).toBe(204);
    expect((await api('/v1/chat/completions', { key: t.apiKey, body: { model: 'qwen3:0.6b', messages } })).status).toBe(200);
    const check = ledgerCheck();
    expect(check.output).toContain('ok: every counter equals the sum of its ledger rows');
    expect(check.ok).toBe(true);
  });
});
