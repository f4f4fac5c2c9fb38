import { Migration } from '@mikro-orm/migrations';

/**
 * What real engines taught (issue 14): a Triton's metrics live on their own port, a Triton repository
 * cannot always carry Genie's model ids, and a model's context length decides what may be sent to it.
 */
export class Migration20261201000000_node_models extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "nodes" add column "metrics_url" text null;`);
    this.addSql(`alter table "nodes" add column "model_names" jsonb not null default '{}';`);
    // Per served model, as its probe learned it: { "<genie id>": { served?, contextLength?, inputs? } }.
    this.addSql(`alter table "nodes" add column "model_info" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "nodes" drop column "model_info", drop column "model_names", drop column "metrics_url";`);
  }
}
