import { mkdirSync, mkdtempSync, chmodSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { launchStack } from '../workers/stack/launch.js';
import { ROOT } from '../workers/stack/processes.js';
import { asyncScenario } from './scenarios/async-jobs.js';
import { latencyScenario } from './scenarios/latency.js';
import { budgetTenantsScenario } from './scenarios/budget-tenants.js';

// Side-by-side benchmark in one invocation: the same requests straight to the simulator (D) and
// through Genie (G). Every Genie request must be a real workflow: the run fails if the count differs.
// Usage: node --import tsx bench/run.ts [--rounds N] [--jobs N]

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1] || 0) || dflt;
const rounds = arg('--rounds', 60);
const jobs = arg('--jobs', 200);
const TTFT_MS = 20;
const ITL_MS = 5;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-bench-'));
chmodSync(dataDir, 0o777);
const stack = await launchStack({
  dataDir,
  freePorts: true,
  ports: { api: 0, temporal: 0, ui: 0, postgres: 0, vllm: 0 },
  simulator: { ttftMs: TTFT_MS, itlMs: ITL_MS },
  env: { GENIE_LOG_LEVEL: 'warn', GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,500ms,1s,2s' },
  log: () => undefined,
});
try {
  const direct = { url: `${stack.nodes.split('=')[1]}/v1/chat/completions`, key: null };
  const genie = { url: `${stack.apiUrl}/v1/chat/completions`, key: stack.apiKey };
  const latency = await latencyScenario(direct, genie, rounds);
  const asyncJobs = await asyncScenario(stack.apiUrl, stack.apiKey, jobs, 20);
  const budgets = await budgetTenantsScenario(stack.databaseUrl, jobs * 5, 32);

  const connection = await Connection.connect({ address: stack.temporalAddress });
  const { count } = await new Client({ connection, namespace: stack.namespace }).workflow.count('WorkflowType = "chatCompletion"');
  await connection.close();
  const sent = latency.genieRequests + jobs;
  const result = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    settings: { rounds, jobs, simulator: { ttftMs: TTFT_MS, itlMs: ITL_MS, maxTokens: 16 } },
    ratios: { webhooksDeliveredFraction: asyncJobs.webhooksDeliveredFraction },
    stream: latency.stream,
    sync: latency.sync,
    async: asyncJobs,
    budgets,
    workflows: { started: count, genieRequests: sent },
  };
  if (count !== sent) throw new Error(`${count} workflows for ${sent} Genie requests`);
  const outDir = path.join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  copyFileSync(file, path.join(outDir, 'latest.json'));
  console.log(JSON.stringify(result, null, 2));
} finally {
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
