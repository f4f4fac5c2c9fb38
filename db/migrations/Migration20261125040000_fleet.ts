import { Migration } from '@mikro-orm/migrations';

export class Migration20261125040000_fleet extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "personas" (
      "alias" text primary key,
      "model" text not null,
      "updated_at" timestamptz not null default now());`);
    // The node registry: what the probe schedule writes and every process's selection reads.
    this.addSql(`create table "nodes" (
      "id" text primary key,
      "name" text not null unique,
      "url" text not null,
      "engine" text not null check ("engine" in ('vllm', 'triton')),
      "state" text not null default 'active' check ("state" in ('active', 'draining', 'down')),
      "models" text[] not null default '{}',
      "capabilities" text[] not null default '{}',
      "healthy" boolean not null default false,
      "load" jsonb null,
      "last_probe" jsonb null,
      "probed_at" timestamptz null,
      "created_at" timestamptz not null default now());`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "nodes", "personas" cascade;');
  }
}
