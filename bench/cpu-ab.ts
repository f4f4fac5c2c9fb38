// CPU per completion of the checked-out tree alone: bench's cpu scenario (scenarios/cpu-per-completion.ts)
// on a fresh stack, a warm-up and then `batches` batches of N sync and N async completions at concurrency
// 4, one JSON line per batch. For an A/B of a change, run it on each tree in turn, alternating (e.g.
// `git stash` / `git stash pop`), and compare means: one batch on this shared host varies by ±10 %.
// Usage: node --import tsx bench/cpu-ab.ts [N=200] [batches=3]   (label the lines with AB_LABEL=…)
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { launchBenchStack, pinTargets } from './bench-stack.js';
import { cpuPerCompletionScenario } from './scenarios/cpu-per-completion.js';

const n = Number(process.argv[2] ?? 200);
const batches = Number(process.argv[3] ?? 3);
const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-cpu-ab-'));
chmodSync(dir, 0o777);
const stack = await launchBenchStack(path.join(dir, 'stack'), { env: { GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,500ms,1s,2s' } });
const connection = await Connection.connect({ address: stack.temporalAddress });
const client = new Client({ connection, namespace: stack.namespace });
try {
  // Placed as bench/run.ts places them: this process on core 0, the whole stack on core 1.
  pinTargets([stack.pids.api, stack.pids.worker, stack.pids.simulator, stack.pids.temporal, stack.pids.postgres]);
  const pids = { api: stack.pids.api, worker: stack.pids.worker, postgres: stack.pids.postgres, temporal: stack.pids.temporal, simulator: stack.pids.simulator };
  const genie = { apiUrl: stack.apiUrl, apiKey: stack.apiKey };
  await cpuPerCompletionScenario({ genie, pids, client, n: 40, concurrency: 4, idleSeconds: 1 });
  for (let i = 0; i < batches; i++) {
    const r = await cpuPerCompletionScenario({ genie, pids, client, n, concurrency: 4, idleSeconds: 2 });
    console.log(JSON.stringify({ label: process.env.AB_LABEL ?? null, sync: r.sync.msPerCompletion, syncOwned: r.sync.genieOwnedMs, async: r.async.msPerCompletion, asyncOwned: r.async.genieOwnedMs, asyncPerSecond: r.async.completionsPerSecond, asyncEvents: r.async.historyEvents }));
  }
} finally {
  await connection.close();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
