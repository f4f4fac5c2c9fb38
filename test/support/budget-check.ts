import { spawnSync } from 'node:child_process';
import { ROOT } from '../../workers/stack/processes.js';
import { testStack } from './stack.js';

/**
 * Runs `genie budget-check` against the test stack: every counter equals the sums of its ledger rows,
 * and no reservation is open whose workflow is not running (closed or unknown to the stack's Temporal)
 * — a leaked reservation fails it. `olderThan` (e.g. '30s') ignores younger reservations.
 */
export function budgetCheck(opts: { databaseUrl?: string; olderThan?: string } = {}): { ok: boolean; output: string } {
  const s = testStack();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', 'budget-check', ...(opts.olderThan ? ['--older-than', opts.olderThan] : [])], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: opts.databaseUrl ?? s.databaseUrl, TEMPORAL_ADDRESS: s.temporalAddress, TEMPORAL_NAMESPACE: s.namespace },
    encoding: 'utf8',
  });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/**
 * The same check for a test that is not about leaks: counters against the ledger, and only leaks older
 * than this suite run — budget-sweep.test.ts leaks a reservation on purpose, and may be doing so while
 * another file checks.
 */
export function ledgerCheck(): { ok: boolean; output: string } {
  return budgetCheck({ olderThan: '1h' });
}
