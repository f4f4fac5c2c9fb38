import { Migration } from '@mikro-orm/migrations';

/**
 * Key lifecycle (issue 16): `revoked_at` gains writers (revoke, rotate) and may lie in the future — a
 * rotated key keeps working until then, so callers can switch over. `replaces_key_id` links a rotated
 * key to its predecessor for audit. Listing filters by application and member.
 */
export class Migration20261201030000_key_rotation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "api_keys" add column "replaces_key_id" text null references "api_keys" ("id");`);
    this.addSql(`create index "api_keys_application_id_index" on "api_keys" ("application_id");`);
    this.addSql(`create index "api_keys_member_id_index" on "api_keys" ("member_id");`);
  }

  override async down(): Promise<void> {
    this.addSql('drop index if exists "api_keys_member_id_index";');
    this.addSql('drop index if exists "api_keys_application_id_index";');
    this.addSql('alter table "api_keys" drop column if exists "replaces_key_id";');
  }
}
