import { Migration } from '@mikro-orm/migrations';

/**
 * Context lengths an operator configures per node and model (issue 14): Triton reports none, and
 * TensorRT-LLM refuses a request whose prompt + max_tokens exceeds its engine's max_seq_len.
 */
export class Migration20261202000000_node_context_lengths extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "nodes" add column if not exists "context_lengths" jsonb not null default '{}';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "nodes" drop column "context_lengths";`);
  }
}
