import { Migration } from '@mikro-orm/migrations';

export class Migration20261125020000_budgets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "model_prices" (
      "model" text primary key,
      "input_micro_usd_per_mtok" bigint not null check ("input_micro_usd_per_mtok" >= 0),
      "output_micro_usd_per_mtok" bigint not null check ("output_micro_usd_per_mtok" >= 0),
      "updated_at" timestamptz not null default now());`);
    this.addSql(`create table "caps" (
      "layer" text not null check ("layer" in ('org', 'application', 'member', 'user')),
      "subject_id" text not null,
      "window" text not null check ("window" in ('minute', 'hour', 'day', 'month')),
      "limit_micro_usd" bigint not null check ("limit_micro_usd" >= 0),
      "updated_at" timestamptz not null default now(),
      primary key ("layer", "subject_id", "window"));`);
    // One counter row per cap and window instance; the row lock taken by the guarded UPDATE is what
    // serializes concurrent reservations against the same cap — and only against the same cap.
    this.addSql(`create table "cap_usage" (
      "layer" text not null,
      "subject_id" text not null,
      "window" text not null,
      "window_start" timestamptz not null,
      "spent_micro_usd" bigint not null default 0 check ("spent_micro_usd" >= 0),
      "reserved_micro_usd" bigint not null default 0 check ("reserved_micro_usd" >= 0),
      primary key ("layer", "subject_id", "window", "window_start"));`);
    // Append-only: every movement of every counter, unique per (workflow, step, cap instance), so a
    // retried activity books nothing twice and the counters can be rebuilt from here.
    this.addSql(`create table "budget_ledger" (
      "id" bigserial primary key,
      "workflow_id" text not null,
      "step" text not null check ("step" in ('reserve', 'settle')),
      "layer" text not null,
      "subject_id" text not null,
      "window" text not null,
      "window_start" timestamptz not null,
      "reserved_delta" bigint not null,
      "spent_delta" bigint not null,
      "created_at" timestamptz not null default now(),
      unique ("workflow_id", "step", "layer", "subject_id", "window"));`);
    this.addSql(`create index "budget_ledger_workflow_id_index" on "budget_ledger" ("workflow_id");`);
    this.addSql(`alter table "usage_records" add column "cost_micro_usd" bigint not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql('alter table "usage_records" drop column "cost_micro_usd";');
    this.addSql('drop table if exists "budget_ledger", "cap_usage", "caps", "model_prices" cascade;');
  }
}
