import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../protocol/principal.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'sk-genie-';
export const API_KEY_PATTERN = /^sk-genie-[0-9A-Za-z]{32,}$/;

/** `sk-genie-` + 40 base62 characters from a CSPRNG (rejection sampling keeps them uniform). */
export function generateApiKey(length = 40): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += BASE62[b % 62];
    }
  }
  return API_KEY_PREFIX + out;
}

/** Keys are high-entropy, so a plain SHA-256 is the right lookup hash (never bcrypt on the hot path). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export async function findPrincipalByKey(em: EntityManager, key: string): Promise<Principal | null> {
  const rows = await em.getConnection().execute<
    Array<{ key_id: string; org_id: string; application_id: string; member_id: string; user_id: string }>
  >(
    `select k.id as key_id, a.org_id, k.application_id, k.member_id, m.user_id
       from api_keys k
       join applications a on a.id = k.application_id
       join members m on m.id = k.member_id and m.org_id = a.org_id
      where k.key_hash = ? and k.revoked_at is null`,
    [hashApiKey(key)],
  );
  const r = rows[0];
  return r ? { keyId: r.key_id, orgId: r.org_id, applicationId: r.application_id, memberId: r.member_id, userId: r.user_id } : null;
}
