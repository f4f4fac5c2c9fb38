import { generateApiKey, hashApiKey } from '../../db/api-keys.js';
import { newId } from '../../db/ids.js';
import { testStack, withDb } from './stack.js';

/** A fresh org with one application, member and API key, straight in Postgres. */
export interface Tenant {
  orgId: string;
  applicationId: string;
  memberId: string;
  userId: string;
  keyId: string;
  apiKey: string;
}

export async function createTenant(name = `org-${newId()}`, opts: { userId?: string; databaseUrl?: string } = {}): Promise<Tenant> {
  const apiKey = generateApiKey();
  const existingUser = opts.userId;
  const ids = { org: newId('org_'), user: existingUser ?? newId('usr_'), member: newId('mem_'), app: newId('app_'), key: newId('key_') };
  await withDb(async (db) => {
    await db.query('insert into orgs (id, name) values ($1, $2)', [ids.org, name]);
    if (!existingUser) await db.query('insert into users (id, email) values ($1, $2)', [ids.user, `${ids.user}@example.test`]);
    await db.query('insert into members (id, org_id, user_id) values ($1, $2, $3)', [ids.member, ids.org, ids.user]);
    await db.query('insert into applications (id, org_id, name) values ($1, $2, $3)', [ids.app, ids.org, 'app']);
    await db.query('insert into api_keys (id, application_id, member_id, key_hash, prefix) values ($1, $2, $3, $4, $5)', [ids.key, ids.app, ids.member, hashApiKey(apiKey), apiKey.slice(0, 12)]);
  }, opts.databaseUrl);
  return { orgId: ids.org, applicationId: ids.app, memberId: ids.member, userId: ids.user, keyId: ids.key, apiKey };
}

/** A tenant written into a database of the test's own (a deployment on its own Postgres). */
export const createTenantIn = (databaseUrl: string) => createTenant(undefined, { databaseUrl });

/** Sets a cap through the admin API. */
export async function putCap(layer: string, subjectId: string, window: string, limitMicroUsd: number, base = testStack().apiUrl): Promise<void> {
  const res = await fetch(`${base}/admin/v1/caps`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: JSON.stringify({ layer, subjectId, window, limitMicroUsd }),
  });
  if (res.status !== 200) throw new Error(`PUT /admin/v1/caps answered ${res.status}: ${await res.text()}`);
}

/**
 * Calendar windows reset on the hour (and day, and month): a test counting exact spend must not straddle
 * a reset, or requests on either side land in two fresh windows. Waits out the last `marginMs` of an hour.
 */
export async function awayFromWindowReset(marginMs = 45_000): Promise<void> {
  const toNextHour = 3_600_000 - (Date.now() % 3_600_000);
  if (toNextHour < marginMs) await new Promise((r) => setTimeout(r, toNextHour + 1000));
}

/** Prices a model through the admin API (0/0 marks a test fixture model free on purpose). */
export async function putPrice(model: string, inputMicroUsdPerMTok = 0, outputMicroUsdPerMTok = 0, base = testStack().apiUrl): Promise<void> {
  const res = await fetch(`${base}/admin/v1/prices/${encodeURIComponent(model)}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: JSON.stringify({ inputMicroUsdPerMTok, outputMicroUsdPerMTok }),
  });
  if (res.status !== 200) throw new Error(`PUT /admin/v1/prices answered ${res.status}: ${await res.text()}`);
}

/** The org layer's counters of a tenant, a row per cap window it has (none before its first reservation). */
export async function orgCapUsage(orgId: string): Promise<Array<{ spent: number; reserved: number }>> {
  const r = await withDb((db) => db.query<{ spent: number; reserved: number }>(`select spent_micro_usd::int as spent, reserved_micro_usd::int as reserved from cap_usage where layer = 'org' and subject_id = $1`, [orgId]));
  return r.rows;
}
