import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startTemporal } from '../workers/stack/temporal.js';
import { searchAttributes } from '../workflows/definitions.js';
import { closedLoop } from './genie-client.js';

// What Genie's visibility metadata costs the Temporal server per sync completion, against the floor's
// shape (b) on a dev server of its own, interleaved rounds (a drifting host weighs on every shape):
//   bare:        admit → generate → settle as empty local activities, eager start;
//   meta:        + the start options Genie sends (5 search attributes, static summary and details, memo);
//   meta+upsert: + the final GenieStatus/GenieNode upsert and current details (what a completion does);
//   full:        + payloads of a completion's size (2.4 kB in, 1.2 kB out).
// Server CPU from /proc; the starter and worker share this process. Run: node --import tsx bench/visibility-cost.ts
// (N=200 ROUNDS=3 by default).

process.env.TEMPORAL_WORKFLOW_STACK_TRACES = 'off';
Runtime.install({ logger: new DefaultLogger('WARN') });
const cpuMs = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in clock ticks of 10 ms
};
/** As workers/workflow-sandbox.ts sets it for Genie: no watchdog per call into the sandbox (patched SDK). */
const LEAN_SANDBOX = { isolateExecutionTimeout: 0 };
const temporal = await startTemporal({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'genie-visibility-')), port: 17233, uiPort: 18233, namespace: 'default' });
const connection = await NativeConnection.connect({ address: temporal.address });
const worker = await Worker.create({
  connection,
  namespace: 'default',
  taskQueue: 'visibility-cost',
  workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios/visibility-workflows.ts'),
  activities: { admit: async () => undefined, generate: async () => undefined, settle: async () => undefined },
  maxConcurrentWorkflowTaskExecutions: 64,
  maxConcurrentLocalActivityExecutions: 64,
  maxConcurrentWorkflowTaskPolls: 2,
  debugMode: true,
  ...LEAN_SANDBOX,
});
const running = worker.run();
const client = new Client({ connection, namespace: 'default' });

const SHAPES = ['bare', 'meta', 'meta+upsert', 'full'] as const;
type Shape = (typeof SHAPES)[number];
/** What startOptions (api/completion/start-options.ts) sends beside the workflow's input. */
const genieStartOptions = (i: number) => ({
  staticSummary: 'sync · `qwen3:8b` · org org_bench · ~12 prompt tokens, max 64',
  staticDetails: '**sync** completion of `qwen3:8b`  \norg `org_bench` · application `app_x` · member `mem_y` · key `key_z`  \n1 messages, ~12 prompt tokens (estimate), max_tokens 64',
  memo: { requestHash: null, metadata: { i: String(i) } },
  typedSearchAttributes: [
    { key: searchAttributes.orgId, value: 'org_bench' },
    { key: searchAttributes.applicationId, value: 'app_x' },
    { key: searchAttributes.model, value: 'qwen3:8b' },
    { key: searchAttributes.mode, value: 'sync' },
    { key: searchAttributes.status, value: 'queued' },
  ],
});

async function round(shape: Shape, n: number) {
  const latencies: number[] = [];
  const before = cpuMs(temporal.child.pid!);
  const stamp = Date.now();
  await closedLoop(n, 4, async (i) => {
    const started = performance.now();
    const handle = await client.workflow.start(shape === 'bare' || shape === 'meta' ? 'bare' : 'upserted', {
      taskQueue: 'visibility-cost',
      workflowId: `visibility-${shape}-${stamp}-${i}`,
      requestEagerStart: true,
      ...(shape === 'bare' ? {} : genieStartOptions(i)),
      ...(shape === 'full' ? { args: [{ pad: 'x'.repeat(2400) }] } : {}),
    });
    await handle.result();
    latencies.push(performance.now() - started);
  });
  latencies.sort((a, b) => a - b);
  return { shape, serverCpuMsPerCompletion: +((cpuMs(temporal.child.pid!) - before) / n).toFixed(2), startToResultP50Ms: +latencies[Math.floor(n / 2)]!.toFixed(1) };
}

const n = Number(process.env.N ?? 200);
for (const shape of SHAPES) await round(shape, 50); // warm-up
for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) for (const shape of SHAPES) console.log(JSON.stringify(await round(shape, n)));
worker.shutdown();
await running;
await connection.close();
await temporal.stop();
