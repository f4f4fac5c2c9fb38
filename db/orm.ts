import { MikroORM } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import pg from 'pg';
import { ApiKeySchema, ApplicationSchema, MemberSchema, OrgSchema, UserSchema } from './entities/tenancy.js';
import { UsageRecordSchema } from './entities/usage-record.js';
import { JobRecordSchema, WebhookSecretSchema } from './entities/job.js';
import { Migration20261125000000_tenancy } from './migrations/Migration20261125000000_tenancy.js';
import { Migration20261125010000_jobs } from './migrations/Migration20261125010000_jobs.js';
import { Migration20261125020000_budgets } from './migrations/Migration20261125020000_budgets.js';
import { Migration20261125030000_budget_functions } from './migrations/Migration20261125030000_budget_functions.js';
import { Migration20261125040000_fleet } from './migrations/Migration20261125040000_fleet.js';
import { Migration20261125050000_node_fleets } from './migrations/Migration20261125050000_node_fleets.js';
import { Migration20261125060000_stream_results } from './migrations/Migration20261125060000_stream_results.js';
import { Migration20261201000000_node_models } from './migrations/Migration20261201000000_node_models.js';
import { Migration20261201010000_idempotency_keys } from './migrations/Migration20261201010000_idempotency_keys.js';
import { Migration20261201020000_ledger_runs } from './migrations/Migration20261201020000_ledger_runs.js';
import { Migration20261201030000_key_rotation } from './migrations/Migration20261201030000_key_rotation.js';
import { Migration20261201040000_retention } from './migrations/Migration20261201040000_retention.js';
import { Migration20261201050000_batches } from './migrations/Migration20261201050000_batches.js';
import { Migration20261201070000_batch_retention } from './migrations/Migration20261201070000_batch_retention.js';
import { Migration20261201080000_file_chunks } from './migrations/Migration20261201080000_file_chunks.js';
import { Migration20261202000000_node_context_lengths } from './migrations/Migration20261202000000_node_context_lengths.js';
import { Migration20261202010000_static_nodes } from './migrations/Migration20261202010000_static_nodes.js';
import { Migration20261202020000_interactive_activity } from './migrations/Migration20261202020000_interactive_activity.js';

export const entities = [UserSchema, OrgSchema, MemberSchema, ApplicationSchema, ApiKeySchema, UsageRecordSchema, JobRecordSchema, WebhookSecretSchema];

// Listed explicitly (not globbed) so the same list works under tsx, jest and a compiled build.
const migrationsList = [
  { name: 'Migration20261125000000_tenancy', class: Migration20261125000000_tenancy },
  { name: 'Migration20261125010000_jobs', class: Migration20261125010000_jobs },
  { name: 'Migration20261125020000_budgets', class: Migration20261125020000_budgets },
  { name: 'Migration20261125030000_budget_functions', class: Migration20261125030000_budget_functions },
  { name: 'Migration20261125040000_fleet', class: Migration20261125040000_fleet },
  { name: 'Migration20261125050000_node_fleets', class: Migration20261125050000_node_fleets },
  { name: 'Migration20261125060000_stream_results', class: Migration20261125060000_stream_results },
  { name: 'Migration20261201000000_node_models', class: Migration20261201000000_node_models },
  { name: 'Migration20261201010000_idempotency_keys', class: Migration20261201010000_idempotency_keys },
  { name: 'Migration20261201020000_ledger_runs', class: Migration20261201020000_ledger_runs },
  { name: 'Migration20261201030000_key_rotation', class: Migration20261201030000_key_rotation },
  { name: 'Migration20261201040000_retention', class: Migration20261201040000_retention },
  { name: 'Migration20261201050000_batches', class: Migration20261201050000_batches },
  { name: 'Migration20261201070000_batch_retention', class: Migration20261201070000_batch_retention },
  { name: 'Migration20261201080000_file_chunks', class: Migration20261201080000_file_chunks },
  { name: 'Migration20261202000000_node_context_lengths', class: Migration20261202000000_node_context_lengths },
  { name: 'Migration20261202010000_static_nodes', class: Migration20261202010000_static_nodes },
  { name: 'Migration20261202020000_interactive_activity', class: Migration20261202020000_interactive_activity },
];

/** The connections a process's pool holds at most (an upload holds one while it is staged). */
export const DEFAULT_POOL_MAX = 10;

export async function openOrm(databaseUrl: string, poolMax = DEFAULT_POOL_MAX): Promise<MikroORM> {
  return MikroORM.init({
    clientUrl: databaseUrl,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, silent: true },
    pool: { min: 0, max: poolMax },
    discovery: { warnWhenNoEntities: false },
    allowGlobalContext: false,
    debug: false,
  });
}

// Any process may start first (API, worker, several replicas): a session-level advisory lock on a
// side connection makes exactly one of them apply pending migrations while the others wait.
const MIGRATION_LOCK = 4_242_001;

export async function migrate(orm: MikroORM, databaseUrl: string): Promise<void> {
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await orm.getMigrator().up();
  } finally {
    await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await lock.end();
  }
}
