import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Principal } from '../protocol/principal.js';
import { newId } from './ids.js';

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

/** What a key resolves to, and when it stops working (a rotated key's grace period ends then). */
export interface KeyPrincipal {
  principal: Principal;
  revokesAt: Date | null;
}

/** The principal of a key that is not revoked (yet): a revocation in the future still lets it in. */
export async function findPrincipalByKey(em: EntityManager, key: string): Promise<KeyPrincipal | null> {
  const rows = await em.getConnection().execute<
    Array<{ key_id: string; org_id: string; application_id: string; member_id: string; user_id: string; revoked_at: Date | null }>
  >(
    `select k.id as key_id, a.org_id, k.application_id, k.member_id, m.user_id, k.revoked_at
       from api_keys k
       join applications a on a.id = k.application_id
       join members m on m.id = k.member_id and m.org_id = a.org_id
      where k.key_hash = ? and (k.revoked_at is null or k.revoked_at > now())`,
    [hashApiKey(key)],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    principal: { keyId: r.key_id, orgId: r.org_id, applicationId: r.application_id, memberId: r.member_id, userId: r.user_id },
    revokesAt: r.revoked_at ? new Date(r.revoked_at) : null,
  };
}

/** A new key's stored columns: the plain key exists only in the caller's hands (and this return value). */
export function newKeyColumns(): { id: string; key: string; keyHash: string; prefix: string } {
  const key = generateApiKey();
  return { id: newId('key_'), key, keyHash: hashApiKey(key), prefix: key.slice(0, 12) };
}
