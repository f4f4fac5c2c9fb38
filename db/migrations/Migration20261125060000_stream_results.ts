import { Migration } from '@mikro-orm/migrations';

/**
 * What a keyed stream sent, so a retry with the same Idempotency-Key replays it as SSE. Kept in
 * Postgres, never in workflow history (tokens do not travel through Temporal).
 */
export class Migration20261125060000_stream_results extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "stream_results" ("workflow_id" text primary key, "body" jsonb not null, "created_at" timestamptz not null default now());`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "stream_results";');
  }
}
