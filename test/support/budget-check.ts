import { spawnSync } from 'node:child_process';
import { ROOT } from '../../workers/stack/processes.js';
import { testStack } from './stack.js';

/** Runs `genie budget-check` (counters vs sums of ledger rows) against the test database. */
export function budgetCheck(): { ok: boolean; output: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', 'budget-check'], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: testStack().databaseUrl },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}
