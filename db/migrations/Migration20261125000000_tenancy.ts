import { Migration } from '@mikro-orm/migrations';

export class Migration20261125000000_tenancy extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "users" ("id" text primary key, "email" text not null unique, "created_at" timestamptz not null default now());`);
    this.addSql(`create table "orgs" ("id" text primary key, "name" text not null unique, "created_at" timestamptz not null default now());`);
    this.addSql(`create table "members" (
      "id" text primary key,
      "org_id" text not null references "orgs" ("id"),
      "user_id" text not null references "users" ("id"),
      "role" text not null default 'member',
      "created_at" timestamptz not null default now(),
      unique ("org_id", "user_id"));`);
    this.addSql(`create table "applications" (
      "id" text primary key,
      "org_id" text not null references "orgs" ("id"),
      "name" text not null,
      "created_at" timestamptz not null default now(),
      unique ("org_id", "name"));`);
    this.addSql(`create table "api_keys" (
      "id" text primary key,
      "application_id" text not null references "applications" ("id"),
      "member_id" text not null references "members" ("id"),
      "key_hash" text not null unique,
      "prefix" text not null,
      "created_at" timestamptz not null default now(),
      "revoked_at" timestamptz null);`);
    this.addSql(`create table "usage_records" (
      "workflow_id" text primary key,
      "org_id" text not null,
      "application_id" text not null,
      "member_id" text not null,
      "user_id" text not null,
      "model" text not null,
      "node" text null,
      "mode" text not null,
      "prompt_tokens" integer not null,
      "completion_tokens" integer not null,
      "outcome" text not null,
      "created_at" timestamptz not null default now());`);
    this.addSql(`create index "usage_records_org_id_index" on "usage_records" ("org_id");`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "usage_records", "api_keys", "applications", "members", "orgs", "users" cascade;');
  }
}
