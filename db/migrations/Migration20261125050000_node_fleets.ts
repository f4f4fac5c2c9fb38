import { Migration } from '@mikro-orm/migrations';

/** Nodes belong to a fleet (GENIE_FLEET): deployments sharing one Postgres never select each other's nodes. */
export class Migration20261125050000_node_fleets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "nodes" add column "fleet" text not null default 'default';`);
    this.addSql(`alter table "nodes" drop constraint "nodes_name_key";`);
    this.addSql(`alter table "nodes" add constraint "nodes_fleet_name_key" unique ("fleet", "name");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "nodes" drop constraint "nodes_fleet_name_key";`);
    this.addSql(`alter table "nodes" add constraint "nodes_name_key" unique ("name");`);
    this.addSql(`alter table "nodes" drop column "fleet";`);
  }
}
