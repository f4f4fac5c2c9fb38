import type { EntityManager } from '@mikro-orm/postgresql';
import { newKeyColumns } from './api-keys.js';
import { newId } from './ids.js';

// Tenancy writes behind the admin API. Foreign keys and unique constraints keep it consistent; the
// caller maps their violations to 404/409.

type Row = { id: string };
const one = async (em: EntityManager, sql: string, params: unknown[]) => (await em.getConnection().execute<Row[]>(sql, params))[0];

export const createOrg = (em: EntityManager, name: string) => one(em, 'insert into orgs (id, name) values (?, ?) returning id', [newId('org_'), name]);
export const createUser = (em: EntityManager, email: string) => one(em, 'insert into users (id, email) values (?, ?) returning id', [newId('usr_'), email]);
export const addMember = (em: EntityManager, orgId: string, userId: string, role: string) =>
  one(em, 'insert into members (id, org_id, user_id, role) values (?, ?, ?, ?) returning id', [newId('mem_'), orgId, userId, role]);
export const createApplication = (em: EntityManager, orgId: string, name: string) =>
  one(em, 'insert into applications (id, org_id, name) values (?, ?, ?) returning id', [newId('app_'), orgId, name]);

/** A key for (application, member) of the same org; the plain key exists only in this return value. */
export async function createKey(em: EntityManager, applicationId: string, memberId: string): Promise<{ id: string; key: string } | null> {
  const match = await em.getConnection().execute<Row[]>(
    'select a.id from applications a join members m on m.org_id = a.org_id where a.id = ? and m.id = ?',
    [applicationId, memberId],
  );
  if (!match[0]) return null;
  const k = newKeyColumns();
  await em.getConnection().execute('insert into api_keys (id, application_id, member_id, key_hash, prefix) values (?, ?, ?, ?, ?)', [k.id, applicationId, memberId, k.keyHash, k.prefix]);
  return { id: k.id, key: k.key };
}
