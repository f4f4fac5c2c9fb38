import type { EntityManager } from '@mikro-orm/postgresql';
import type { KeyView } from '../protocol/admin.js';
import { newKeyColumns } from './api-keys.js';

// Listing, revoking and rotating API keys (the admin API and `genie key …`). A key is refused from its
// `revoked_at` on (db/api-keys.ts looks keys up with `revoked_at > now()`), so a rotation's grace period
// is nothing but a revocation in the future, and a revocation takes effect on every API once the
// auth cache's entry for it ends (GENIE_AUTH_CACHE_TTL_MS).

type KeyRow = {
  id: string;
  prefix: string;
  org_id: string;
  application_id: string;
  member_id: string;
  created_at: Date;
  revoked_at: Date | null;
  replaces_key_id: string | null;
  state: KeyView['state'];
};

// Never the hash: a listing is for telling keys apart, and a hash is as good as the key to a lookup.
const VIEW = `select k.id, k.prefix, a.org_id, k.application_id, k.member_id, k.created_at, k.revoked_at, k.replaces_key_id,
                     case when k.revoked_at is null then 'active' when k.revoked_at > now() then 'expiring' else 'revoked' end as state
                from api_keys k join applications a on a.id = k.application_id`;

const view = (r: KeyRow): KeyView => ({
  id: r.id,
  prefix: r.prefix,
  orgId: r.org_id,
  applicationId: r.application_id,
  memberId: r.member_id,
  createdAt: new Date(r.created_at).toISOString(),
  revokedAt: r.revoked_at ? new Date(r.revoked_at).toISOString() : null,
  replacesKeyId: r.replaces_key_id,
  state: r.state,
});

/**
 * One page of keys, oldest first, filtered by org, application and member when given. `after` is a key
 * id (the previous page's last): the page holds the keys created after it in the same order, so a key
 * issued while an admin pages through lands on a later page, never between two pages already read.
 * Null when `after` names no key.
 */
export async function listKeys(
  em: EntityManager,
  filter: { orgId?: string; applicationId?: string; memberId?: string },
  page: { after?: string; limit: number },
): Promise<{ keys: KeyView[]; hasMore: boolean } | null> {
  const { orgId = null, applicationId = null, memberId = null } = filter;
  const conn = em.getConnection();
  // The cursor's own timestamp is compared in Postgres: read back into a Date it would lose its microseconds.
  if (page.after && !(await conn.execute('select 1 from api_keys where id = ?', [page.after])).length) return null;
  const after = page.after ?? null;
  const rows = await conn.execute<KeyRow[]>(
    `${VIEW}
      where (?::text is null or a.org_id = ?) and (?::text is null or k.application_id = ?) and (?::text is null or k.member_id = ?)
        and (?::text is null or (k.created_at, k.id) > (select c.created_at, c.id from api_keys c where c.id = ?))
      order by k.created_at, k.id
      limit ?`,
    [orgId, orgId, applicationId, applicationId, memberId, memberId, after, after, page.limit + 1],
  );
  return { keys: rows.slice(0, page.limit).map(view), hasMore: rows.length > page.limit };
}

export async function findKey(em: EntityManager, keyId: string): Promise<KeyView | null> {
  const rows = await em.getConnection().execute<KeyRow[]>(`${VIEW} where k.id = ?`, [keyId]);
  return rows[0] ? view(rows[0]) : null;
}

/**
 * Refuses the key from now on. Idempotent: a revoked key keeps the moment it was revoked; a rotated key
 * still in its grace period is cut short (revoked now rather than later). Null for an unknown key.
 */
export async function revokeKey(em: EntityManager, keyId: string): Promise<KeyView | null> {
  await em.getConnection().execute('update api_keys set revoked_at = least(coalesce(revoked_at, now()), now()) where id = ?', [keyId]);
  return findKey(em, keyId);
}

export type RotateOutcome = { kind: 'rotated'; id: string; key: string; previous: KeyView } | { kind: 'not_found' } | { kind: 'revoked'; previous: KeyView };

/**
 * A new key for the old one's application and member, the old one revoked `graceSeconds` from now. One
 * statement: of two concurrent rotations of a key only one finds it unrevoked under its row lock, so a
 * key has at most one successor. A key already revoked (or rotated) is not rotated again.
 */
export async function rotateKey(em: EntityManager, keyId: string, graceSeconds: number): Promise<RotateOutcome> {
  const k = newKeyColumns();
  const rows = await em.getConnection().execute<Array<{ id: string }>>(
    `with old as (
       update api_keys set revoked_at = now() + make_interval(secs => ?)
        where id = ? and revoked_at is null
        returning id, application_id, member_id
     )
     insert into api_keys (id, application_id, member_id, key_hash, prefix, replaces_key_id)
     select ?, application_id, member_id, ?, ?, id from old
     returning id`,
    [graceSeconds, keyId, k.id, k.keyHash, k.prefix],
  );
  const previous = await findKey(em, keyId);
  if (!previous) return { kind: 'not_found' };
  if (!rows[0]) return { kind: 'revoked', previous };
  return { kind: 'rotated', id: k.id, key: k.key, previous };
}
