import { Migration } from '@mikro-orm/migrations';

/**
 * An Idempotency-Key lives a fixed time (GENIE_IDEMPOTENCY_TTL_HOURS, 24 h): the key names one job
 * while it lives; afterwards the same key starts a new job under a new id, with its own ledger rows,
 * webhook secret and stream record — never the expired job's (issue 15: a key reused after Temporal
 * had forgotten its workflow found the old ledger and ran free of every cap).
 */
export class Migration20261201010000_idempotency_keys extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_keys" (
      "org_id" text not null,
      "key_hash" text not null,
      "job_id" text not null,
      "created_at" timestamptz not null default now(),
      primary key ("org_id", "key_hash"));`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "idempotency_keys";');
  }
}
