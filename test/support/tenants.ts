import { generateApiKey, hashApiKey } from '../../db/api-keys.js';
import { newId } from '../../db/ids.js';
import { withDb } from './stack.js';

/** A fresh org with one application, member and API key, straight in Postgres. */
export async function createTenant(name = `org-${newId()}`): Promise<{ orgId: string; apiKey: string }> {
  const apiKey = generateApiKey();
  const ids = { org: newId('org_'), user: newId('usr_'), member: newId('mem_'), app: newId('app_'), key: newId('key_') };
  await withDb(async (db) => {
    await db.query('insert into orgs (id, name) values ($1, $2)', [ids.org, name]);
    await db.query('insert into users (id, email) values ($1, $2)', [ids.user, `${ids.user}@example.test`]);
    await db.query('insert into members (id, org_id, user_id) values ($1, $2, $3)', [ids.member, ids.org, ids.user]);
    await db.query('insert into applications (id, org_id, name) values ($1, $2, $3)', [ids.app, ids.org, 'app']);
    await db.query('insert into api_keys (id, application_id, member_id, key_hash, prefix) values ($1, $2, $3, $4, $5)', [ids.key, ids.app, ids.member, hashApiKey(apiKey), apiKey.slice(0, 12)]);
  });
  return { orgId: ids.org, apiKey };
}
