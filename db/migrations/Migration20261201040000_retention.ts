import { Migration } from '@mikro-orm/migrations';

/**
 * The retention sweeper (issue 16) deletes webhook secrets, stream records and expired Idempotency-Keys
 * by age: each table gets an index on `created_at`, so a sweep reads the oldest rows, not the table.
 */
export class Migration20261201040000_retention extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "webhook_secrets_created_at_index" on "webhook_secrets" ("created_at", "workflow_id");`);
    this.addSql(`create index "stream_results_created_at_index" on "stream_results" ("created_at");`);
    this.addSql(`create index "idempotency_keys_created_at_index" on "idempotency_keys" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "webhook_secrets_created_at_index", "stream_results_created_at_index", "idempotency_keys_created_at_index";');
  }
}
