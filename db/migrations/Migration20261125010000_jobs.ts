import { Migration } from '@mikro-orm/migrations';

export class Migration20261125010000_jobs extends Migration {
  override async up(): Promise<void> {
    // The job projection: what GET /v1/jobs/:id answers after Temporal's retention dropped the workflow.
    this.addSql(`create table "jobs" (
      "job_id" text primary key,
      "workflow_id" text not null unique,
      "org_id" text not null,
      "status" text not null,
      "view" jsonb not null,
      "request_hash" text null,
      "created_at" timestamptz not null default now(),
      "updated_at" timestamptz not null default now());`);
    this.addSql(`create index "jobs_org_id_index" on "jobs" ("org_id");`);
    // Webhook secrets live here, keyed by workflow id, so they never appear in workflow history or the UI.
    this.addSql(`create table "webhook_secrets" (
      "workflow_id" text primary key,
      "secret" text not null,
      "created_at" timestamptz not null default now());`);
  }

  override async down(): Promise<void> {
    this.addSql('drop table if exists "webhook_secrets", "jobs" cascade;');
  }
}
