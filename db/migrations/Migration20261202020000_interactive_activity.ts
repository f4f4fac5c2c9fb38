import { Migration } from '@mikro-orm/migrations';

/**
 * A row per fleet: when one of its API processes last took a sync or stream completion. API processes
 * write it at most once a second each; the fleet's batch lines read it to step back while interactive
 * callers are being served.
 */
export class Migration20261202020000_interactive_activity extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists "interactive_activity" (
      "fleet" text primary key,
      "last_at" timestamptz not null);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "interactive_activity";`);
  }
}
