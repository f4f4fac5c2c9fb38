import { Migration } from '@mikro-orm/migrations';

/**
 * File contents in chunks (issue 17): an upload (up to 200 MiB) is written to Postgres a chunk at a time
 * as it streams in, and a download or a batch's validation reads it a chunk at a time, so no process
 * holds a whole file in memory. The foreign key is checked at commit: an upload's chunks are inserted
 * before its `files` row, whose metadata (purpose, expiry) may come after the file in the form.
 */
export class Migration20261201080000_file_chunks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table "file_chunks" (
      "file_id" text not null references "files" ("id") on delete cascade deferrable initially deferred,
      "seq" int not null,
      "data" bytea not null,
      primary key ("file_id", "seq"));`);
    this.addSql(`insert into "file_chunks" ("file_id", "seq", "data") select "id", 0, "content" from "files" where octet_length("content") > 0;`);
    this.addSql(`alter table "files" drop column "content";`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "files" add column "content" bytea not null default '';`);
    this.addSql(`update "files" f set "content" = (select string_agg("data", '' order by "seq") from "file_chunks" c where c."file_id" = f."id") where exists (select 1 from "file_chunks" c where c."file_id" = f."id");`);
    this.addSql('drop table if exists "file_chunks";');
  }
}
