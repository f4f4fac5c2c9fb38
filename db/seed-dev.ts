import type { EntityManager } from '@mikro-orm/postgresql';
import { API_KEY_PATTERN, hashApiKey } from './api-keys.js';
import { newId } from './ids.js';

export interface DevTenancy {
  orgId: string;
  applicationId: string;
  memberId: string;
  userId: string;
}

/**
 * Dev mode's tenant (issue 2): org `demo`, application `demo-app`, user/member `demo@localhost`, and the
 * given API key. Idempotent: a second `make dev` finds the rows and only adds the key if it is new.
 */
export async function seedDevTenancy(em: EntityManager, apiKey: string): Promise<DevTenancy> {
  if (!API_KEY_PATTERN.test(apiKey)) throw new Error('the dev API key must be sk-genie- followed by at least 32 base62 characters');
  const conn = em.getConnection();
  const one = async (sql: string, params: unknown[]) => (await conn.execute<Array<{ id: string }>>(sql, params))[0].id;
  const orgId = await one(
    `insert into orgs (id, name) values (?, 'demo') on conflict (name) do update set name = excluded.name returning id`,
    [newId('org_')],
  );
  const userId = await one(
    `insert into users (id, email) values (?, 'demo@localhost') on conflict (email) do update set email = excluded.email returning id`,
    [newId('usr_')],
  );
  const memberId = await one(
    `insert into members (id, org_id, user_id, role) values (?, ?, ?, 'owner')
       on conflict (org_id, user_id) do update set role = members.role returning id`,
    [newId('mem_'), orgId, userId],
  );
  const applicationId = await one(
    `insert into applications (id, org_id, name) values (?, ?, 'demo-app')
       on conflict (org_id, name) do update set name = excluded.name returning id`,
    [newId('app_'), orgId],
  );
  await conn.execute(
    `insert into api_keys (id, application_id, member_id, key_hash, prefix) values (?, ?, ?, ?, ?)
       on conflict (key_hash) do nothing`,
    [newId('key_'), applicationId, memberId, hashApiKey(apiKey), apiKey.slice(0, 12)],
  );
  return { orgId, applicationId, memberId, userId };
}
