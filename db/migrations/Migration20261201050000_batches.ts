import { Migration } from '@mikro-orm/migrations';

/**
 * The Batch API (issue 17): files (batch inputs and the output / error files batches write), batches
 * and their lines. A line's request and its result live here, not in workflow history, so a batch's
 * histories stay small however many lines it has; `request_counts` are counters updated in the same
 * statement that records a line's result, so every line counts exactly once.
 */
export class Migration20261201050000_batches extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "files" (
      "id" text primary key,
      "org_id" text not null,
      "purpose" text not null,
      "filename" text not null,
      "bytes" bigint not null,
      "content" bytea not null,
      "created_at" timestamptz not null default now());`);
    this.addSql(`create index "files_org_id_index" on "files" ("org_id", "id");`);
    this.addSql(`create table "batches" (
      "id" text primary key,
      "org_id" text not null,
      "input_file_id" text not null,
      "endpoint" text not null,
      "completion_window" text not null,
      "metadata" jsonb null,
      "status" text not null,
      "errors" jsonb null,
      "output_file_id" text null,
      "error_file_id" text null,
      "total" int not null default 0,
      "completed" int not null default 0,
      "failed" int not null default 0,
      "webhook" jsonb null,
      "created_at" timestamptz not null default now(),
      "in_progress_at" timestamptz null,
      "expires_at" timestamptz not null,
      "finalizing_at" timestamptz null,
      "completed_at" timestamptz null,
      "failed_at" timestamptz null,
      "expired_at" timestamptz null,
      "cancelling_at" timestamptz null,
      "cancelled_at" timestamptz null);`);
    this.addSql(`create index "batches_org_id_index" on "batches" ("org_id", "id");`);
    this.addSql(`create index "batches_running_index" on "batches" ("org_id") where "status" in ('validating', 'in_progress', 'cancelling');`);
    this.addSql(`create table "batch_lines" (
      "batch_id" text not null references "batches" ("id") on delete cascade,
      "idx" int not null,
      "custom_id" text not null,
      "body" jsonb not null,
      "status" text not null default 'pending',
      "response" jsonb null,
      "finished_at" timestamptz null,
      primary key ("batch_id", "idx"));`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "batch_lines", "batches", "files" cascade;');
  }
}
