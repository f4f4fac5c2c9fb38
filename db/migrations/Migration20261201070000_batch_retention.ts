import { Migration } from '@mikro-orm/migrations';

/**
 * Retention for the Batch API (issue 17): files expire (`expires_at`, OpenAI's `expires_after` on upload;
 * batch output and error files 30 days by default, or the batch's `output_expires_after`), and a batch's
 * per-line rows go once the batch has ended and its files were written, after the retention period. The
 * batch row itself stays listable. Partial indexes let each sweep read only what is due.
 */
export class Migration20261201070000_batch_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "files" add column "expires_at" timestamptz null;`);
    this.addSql(`create index "files_expires_at_index" on "files" ("expires_at") where "expires_at" is not null;`);
    this.addSql(`alter table "batches" add column "output_expires_after_seconds" int null;`);
    this.addSql(`alter table "batches" add column "ended_at" timestamptz null;`);
    this.addSql(`alter table "batches" add column "lines_deleted_at" timestamptz null;`);
    this.addSql(`update "batches" set "ended_at" = coalesce("completed_at", "failed_at", "expired_at", "cancelled_at") where "status" in ('failed', 'completed', 'expired', 'cancelled');`);
    this.addSql(`create index "batches_lines_due_index" on "batches" ("ended_at") where "ended_at" is not null and "lines_deleted_at" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "files_expires_at_index", "batches_lines_due_index";');
    this.addSql('alter table "files" drop column if exists "expires_at";');
    this.addSql('alter table "batches" drop column if exists "output_expires_after_seconds", drop column if exists "ended_at", drop column if exists "lines_deleted_at";');
  }
}
