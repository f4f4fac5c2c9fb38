import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from './ids.js';

/**
 * The job an org's Idempotency-Key names: the one it named less than `ttlMs` ago, or — a new key, or
 * one past its lifetime — a fresh job id, in one statement (concurrent first uses agree on one id).
 * Keys are stored hashed: they are the caller's, and may carry meaning.
 */
export async function claimIdempotentJobId(em: EntityManager, orgId: string, key: string, ttlMs: number): Promise<string> {
  const keyHash = createHash('sha256').update(key).digest('hex');
  const rows = await em.getConnection().execute<Array<{ job_id: string }>>(
    `insert into idempotency_keys as k (org_id, key_hash, job_id) values (?, ?, ?)
     on conflict (org_id, key_hash) do update
       set job_id = case when k.created_at <= now() - make_interval(secs => ?) then excluded.job_id else k.job_id end,
           created_at = case when k.created_at <= now() - make_interval(secs => ?) then now() else k.created_at end
     returning job_id`,
    [orgId, keyHash, `k${newId()}`, ttlMs / 1000, ttlMs / 1000],
  );
  return rows[0].job_id;
}
