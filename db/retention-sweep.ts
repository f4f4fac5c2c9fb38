import type { EntityManager } from '@mikro-orm/postgresql';

// What the retention sweeper deletes (activities/retention/sweep-retention.ts), in batches, by age as
// Postgres's clock (which wrote `created_at`) tells it. Every delete re-checks the age under its row
// lock, so a row renewed meanwhile (an Idempotency-Key claimed afresh) is kept.

const secs = (ms: number) => ms / 1000;
const count = async (em: EntityManager, sql: string, params: unknown[]) =>
  (await em.getConnection().execute<Array<{ n: number }>>(`with d as (${sql} returning 1) select count(*)::int as n from d`, params))[0].n;

export interface AgedSecret {
  workflowId: string;
  /** As Postgres writes it (microseconds): a Date would round the paging cursor to milliseconds. */
  createdAt: string;
}

/** Webhook secrets at least `olderThanMs` old, oldest first, after `after` (keyset paging: running ones are skipped over, not re-read). */
export async function agedWebhookSecrets(em: EntityManager, opts: { olderThanMs: number; limit: number; after?: AgedSecret }): Promise<AgedSecret[]> {
  const after = opts.after ?? null;
  const rows = await em.getConnection().execute<Array<{ workflow_id: string; created_at: string }>>(
    `select workflow_id, created_at::text as created_at from webhook_secrets
      where created_at <= now() - make_interval(secs => ?)
        and (?::timestamptz is null or (created_at, workflow_id) > (?::timestamptz, ?))
      order by created_at, workflow_id
      limit ?`,
    [secs(opts.olderThanMs), after?.createdAt ?? null, after?.createdAt ?? null, after?.workflowId ?? null, opts.limit],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, createdAt: r.created_at }));
}

/** Deletes these workflows' webhook secrets (still at least `olderThanMs` old); how many went. */
export async function deleteWebhookSecrets(em: EntityManager, workflowIds: string[], olderThanMs: number): Promise<number> {
  if (!workflowIds.length) return 0;
  // The ids as one JSON text: execute() inlines its parameters, and would spread an array into a list.
  return count(em, `delete from webhook_secrets where workflow_id in (select jsonb_array_elements_text(?::jsonb)) and created_at <= now() - make_interval(secs => ?)`, [
    JSON.stringify(workflowIds),
    secs(olderThanMs),
  ]);
}

/** Deletes up to `limit` keyed streams' records at least `olderThanMs` old, oldest first. */
export async function deleteAgedStreamResults(em: EntityManager, olderThanMs: number, limit: number): Promise<number> {
  return count(
    em,
    `delete from stream_results s
      using (select workflow_id from stream_results where created_at <= now() - make_interval(secs => ?) order by created_at limit ?) old
      where s.workflow_id = old.workflow_id and s.created_at <= now() - make_interval(secs => ?)`,
    [secs(olderThanMs), limit, secs(olderThanMs)],
  );
}

/**
 * Deletes up to `limit` Idempotency-Keys past their lifetime. An expired key already names no job (a
 * claim gives it a fresh one, db/idempotency-keys.ts), so deleting it changes nothing a caller sees.
 */
export async function deleteExpiredIdempotencyKeys(em: EntityManager, ttlMs: number, limit: number): Promise<number> {
  return count(
    em,
    `delete from idempotency_keys k
      using (select org_id, key_hash from idempotency_keys where created_at <= now() - make_interval(secs => ?) order by created_at limit ?) old
      where k.org_id = old.org_id and k.key_hash = old.key_hash and k.created_at <= now() - make_interval(secs => ?)`,
    [secs(ttlMs), limit, secs(ttlMs)],
  );
}

/**
 * Deletes up to `limit` files past their `expires_at` (OpenAI's `expires_after`; batch outputs' default),
 * soonest-expired first. Reads already treat them as gone (db/file-store.ts); this frees their bytes.
 */
export async function deleteExpiredFiles(em: EntityManager, limit: number): Promise<number> {
  return count(
    em,
    `delete from files f
      using (select id from files where expires_at <= now() order by expires_at limit ?) old
      where f.id = old.id and f.expires_at <= now()`,
    [limit],
  );
}

/**
 * Deletes the per-line rows (requests, answers) of up to `batches` batches that ended at least
 * `olderThanMs` ago — ended means their output and error files were written, so nothing reads the rows
 * any more — and marks those batches, which stay listable. How many line rows went.
 */
export async function deleteEndedBatchLines(em: EntityManager, olderThanMs: number, batches: number): Promise<{ batches: number; lines: number }> {
  const rows = await em.getConnection().execute<Array<{ batches: number; lines: number }>>(
    `with due as (
       select id from batches
        where ended_at is not null and lines_deleted_at is null and ended_at <= now() - make_interval(secs => ?)
        order by ended_at limit ? for update skip locked),
     gone as (delete from batch_lines l using due where l.batch_id = due.id returning 1),
     marked as (update batches b set lines_deleted_at = now() from due where b.id = due.id returning 1)
     select (select count(*) from marked)::int as batches, (select count(*) from gone)::int as lines`,
    [secs(olderThanMs), batches],
  );
  return rows[0];
}
