import { spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import { hashApiKey } from '../../db/api-keys.js';
import { ROOT } from '../../workers/stack/processes.js';
import { api } from '../support/jobs.js';
import { testStack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

// API keys can be listed, revoked and rotated (issue 16) through the admin API and `npm run genie --
// key …`; the APIs of the shared stack (two real processes, each with its own auth cache of the default
// 10 s) refuse a revoked key within that lifetime, with OpenAI's 401 envelope.

const AUTH_CACHE_TTL_MS = 10_000;
/** What "within the cache's lifetime" allows on a machine busy with the rest of the suite. */
const SLACK_MS = 5_000;

const genie = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', GENIE_URL: testStack().apiUrl, GENIE_ADMIN_TOKEN: testStack().adminToken },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, json: (() => { try { return JSON.parse(r.stdout); } catch { return null; } })() };
};
const admin = (path: string, init: { method?: string; body?: unknown } = {}) => api(`/admin/v1${path}`, { ...init, key: testStack().adminToken });

/** An org with one application and member, and a key issued through the admin API. */
async function tenantWithKey(): Promise<{ orgId: string; applicationId: string; memberId: string; keyId: string; key: string }> {
  const tag = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const org = (await admin('/orgs', { body: { name: `keys-${tag}` } })).json;
  const user = (await admin('/users', { body: { email: `keys-${tag}@genie.test` } })).json;
  const member = (await admin(`/orgs/${org.id}/members`, { body: { userId: user.id } })).json;
  const app = (await admin(`/orgs/${org.id}/applications`, { body: { name: 'keys-app' } })).json;
  const created = await admin(`/applications/${app.id}/keys`, { body: { memberId: member.id } });
  expect(created.status).toBe(201);
  return { orgId: org.id, applicationId: app.id, memberId: member.id, keyId: created.json.id, key: created.json.key };
}

/** GET /v1/me with `key` on every API of the stack: their statuses, in order. */
const meOnEveryApi = (key: string) => Promise.all(testStack().apiUrls.map((base) => api('/v1/me', { base, key })));
const statuses = async (key: string) => (await meOnEveryApi(key)).map((r) => r.status);
const everyApi = (status: number) => testStack().apiUrls.map(() => status);

/** The key refused by every API, each within the auth cache's lifetime from `since`. */
async function refusedEverywhere(key: string, withinMs: number): Promise<void> {
  await waitFor('every API to refuse the key', async () => (await statuses(key)).every((s) => s === 401), withinMs, 250);
  for (const r of await meOnEveryApi(key)) {
    expect(r.json).toEqual({ error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key', param: null } });
  }
  // The official SDK reads it as what it is.
  const sdk = new OpenAI({ baseURL: `${testStack().apiUrl}/v1`, apiKey: key, maxRetries: 0 });
  const error = await sdk.models.list().then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
  expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
}

describe('API key lifecycle', () => {
  it('lists keys without their secret, and a revoked key is refused by every API within the auth cache’s lifetime', async () => {
    const t = await tenantWithKey();
    // Resolved, and so cached, by every API.
    expect(await statuses(t.key)).toEqual(everyApi(200));

    const listed = genie('key', 'list', '--app', t.applicationId);
    expect(listed.status).toBe(0);
    expect(listed.json.data).toEqual([
      { id: t.keyId, prefix: t.key.slice(0, 12), orgId: t.orgId, applicationId: t.applicationId, memberId: t.memberId, createdAt: expect.any(String), revokedAt: null, replacesKeyId: null, state: 'active' },
    ]);
    expect(listed.stdout).not.toContain(t.key);
    expect(listed.stdout).not.toContain(hashApiKey(t.key));
    expect((await admin(`/keys?orgId=${t.orgId}`)).json.data.map((k: { id: string }) => k.id)).toEqual([t.keyId]);
    expect((await admin(`/keys?memberId=${t.memberId}`)).json.data.map((k: { id: string }) => k.id)).toEqual([t.keyId]);

    const revoked = genie('key', 'revoke', t.keyId);
    expect(revoked.status).toBe(0);
    expect(revoked.json).toMatchObject({ id: t.keyId, state: 'revoked', revokedAt: expect.any(String) });
    await refusedEverywhere(t.key, AUTH_CACHE_TTL_MS + SLACK_MS);

    // Idempotent: revoking again keeps the moment it was revoked.
    const again = await admin(`/keys/${t.keyId}/revoke`, { method: 'POST' });
    expect(again).toMatchObject({ status: 200, json: { id: t.keyId, state: 'revoked', revokedAt: revoked.json.revokedAt } });
    expect((await admin('/keys/key_nonexistent/revoke', { method: 'POST' })).status).toBe(404);
    // A revoked key is not rotated into a working one.
    expect(await admin(`/keys/${t.keyId}/rotate`, { method: 'POST', body: {} })).toMatchObject({ status: 409, json: { error: { code: 'key_revoked', param: 'keyId' } } });
  }, 60_000);

  it('lists keys a page at a time, oldest first: limit, after and has_more; a key issued meanwhile lands on a later page', async () => {
    const t = await tenantWithKey();
    const issue = async () => (await admin(`/applications/${t.applicationId}/keys`, { body: { memberId: t.memberId } })).json.id as string;
    const ids = [t.keyId];
    for (let i = 0; i < 4; i++) ids.push(await issue());
    const page = async (query: string) => (await admin(`/keys?applicationId=${t.applicationId}&${query}`)).json;

    const first = await page('limit=2');
    expect(first).toMatchObject({ object: 'list', first_id: ids[0], last_id: ids[1], has_more: true });
    expect(first.data.map((k: { id: string }) => k.id)).toEqual(ids.slice(0, 2));
    ids.push(await issue()); // issued between two pages: it comes after every key already listed
    const second = await page(`limit=2&after=${first.last_id}`);
    expect(second.data.map((k: { id: string }) => k.id)).toEqual(ids.slice(2, 4));
    expect(second.has_more).toBe(true);
    const third = await page(`limit=2&after=${second.last_id}`);
    expect(third).toMatchObject({ first_id: ids[4], last_id: ids[5], has_more: false });
    expect(third.data.map((k: { id: string }) => k.id)).toEqual(ids.slice(4));
    // Without a limit, one page of up to 100.
    expect((await page('')).data.map((k: { id: string }) => k.id)).toEqual(ids);

    // The CLI follows the pages to the end.
    const listed = genie('key', 'list', '--app', t.applicationId, '--page-size', '2');
    expect(listed.status).toBe(0);
    expect(listed.json).toMatchObject({ object: 'list', has_more: false, first_id: ids[0], last_id: ids[5] });
    expect(listed.json.data.map((k: { id: string }) => k.id)).toEqual(ids);
    const refused = genie('key', 'list', '--app', t.applicationId, '--page-size', '0');
    expect(refused.status).toBe(1);
    expect(refused.json.error).toMatchObject({ type: 'invalid_request_error', param: 'limit' });

    // A cursor that names no key, and a page size out of range, are 400s naming the parameter.
    for (const [query, param] of [['after=key_nope', 'after'], ['limit=0', 'limit'], ['limit=1001', 'limit']]) {
      const r = await page(query);
      expect(r.error).toMatchObject({ type: 'invalid_request_error', param });
    }
  });

  it('rotates a key at once: a new key for the same application and member, the old one refused', async () => {
    const t = await tenantWithKey();
    expect(await statuses(t.key)).toEqual(everyApi(200));
    const rotated = await admin(`/keys/${t.keyId}/rotate`, { method: 'POST' }); // no body: no grace
    expect(rotated.status).toBe(201);
    expect(rotated.json).toMatchObject({ id: expect.stringMatching(/^key_/), key: expect.stringMatching(/^sk-genie-[0-9A-Za-z]{40}$/), previous: { id: t.keyId, state: 'revoked' } });
    for (const r of await meOnEveryApi(rotated.json.key)) {
      expect(r).toMatchObject({ status: 200, json: { key_id: rotated.json.id, org_id: t.orgId, application_id: t.applicationId, member_id: t.memberId } });
    }
    await refusedEverywhere(t.key, AUTH_CACHE_TTL_MS + SLACK_MS);
    expect((await admin('/keys/key_nonexistent/rotate', { method: 'POST', body: {} })).status).toBe(404);
  }, 60_000);

  it('rotates a key with a grace period: both work until it ends, then only the new one', async () => {
    const GRACE_S = 12;
    const t = await tenantWithKey();
    expect(await statuses(t.key)).toEqual(everyApi(200));
    const rotated = genie('key', 'rotate', t.keyId, '--grace', `${GRACE_S}s`);
    expect(rotated.status).toBe(0);
    expect(rotated.json.previous).toMatchObject({ id: t.keyId, state: 'expiring' });
    expect(Date.parse(rotated.json.previous.revokedAt)).toBeGreaterThan(Date.parse(rotated.json.previous.createdAt));

    // Right after the rotation (seconds before the grace ends) both keys work on every API.
    expect(await statuses(t.key)).toEqual(everyApi(200));
    expect(await statuses(rotated.json.key)).toEqual(everyApi(200));
    const listed = genie('key', 'list', '--app', t.applicationId).json.data;
    expect(listed.map((k: { id: string; state: string; replacesKeyId: string | null }) => [k.id, k.state, k.replacesKeyId])).toEqual([
      [t.keyId, 'expiring', null],
      [rotated.json.id, 'active', t.keyId],
    ]);
    // Rotated already: its successor is the one to rotate next.
    expect(genie('key', 'rotate', t.keyId).json).toMatchObject({ error: { code: 'key_revoked', message: expect.stringContaining('already rotated') } });

    // The cache trusts the old key no longer than its grace: refused soon after it ends, not a TTL later.
    await refusedEverywhere(t.key, GRACE_S * 1000 + SLACK_MS);
    expect(await statuses(rotated.json.key)).toEqual(everyApi(200));
    expect((await admin(`/keys?applicationId=${t.applicationId}`)).json.data.map((k: { state: string }) => k.state)).toEqual(['revoked', 'active']);
  }, 60_000);
});
