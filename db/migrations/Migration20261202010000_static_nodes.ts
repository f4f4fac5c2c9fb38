import { Migration } from '@mikro-orm/migrations';

/**
 * Which nodes came from the deployment's static list (GENIE_NODES / GENIE_NODES_FILE): a worker start
 * removes those no longer listed, and never a node an operator added through the admin API. Rows from
 * before this column are not known to be static and stay.
 */
export class Migration20261202010000_static_nodes extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "nodes" add column if not exists "static" boolean not null default false;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "nodes" drop column "static";`);
  }
}
