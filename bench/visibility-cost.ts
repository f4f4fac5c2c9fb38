import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startOptions, type StartSettings } from '../api/completion/start-options.js';
import type { ChatCompletionRequest } from '../protocol/chat-request.js';
import { completionInput } from '../protocol/completion-input.js';
import { freePort } from '../workers/stack/free-port.js';
import { startTemporal } from '../workers/stack/temporal.js';
import { taskQueues } from '../workflows/definitions.js';
import { closedLoop } from './genie-client.js';
import { cpuMs } from './proc-cpu.js';
import { pct, round } from './stats.js';

// What Genie's visibility metadata costs the Temporal server per sync completion, against the floor's
// shape (b) on a dev server of its own, interleaved rounds (a drifting host weighs on every shape):
//   bare:        admit → generate → settle as empty local activities, eager start (floorLocal);
//   meta:        + the start options Genie sends (startOptions: search attributes, summary, details, memo);
//   meta+upsert: + the final GenieStatus/GenieNode upsert and current details (floorLocalUpserted);
//   full:        + a sync completion's real workflow input as the payload, in and back out.
// Server CPU from /proc; the starter and worker share this process. Run: node --import tsx bench/visibility-cost.ts
// (N=200 ROUNDS=3 by default).

process.env.TEMPORAL_WORKFLOW_STACK_TRACES = 'off';
Runtime.install({ logger: new DefaultLogger('WARN') });
/** As workers/workflow-sandbox.ts sets it for Genie: no watchdog per call into the sandbox (patched SDK). */
const LEAN_SANDBOX = { isolateExecutionTimeout: 0 };
const TASK_QUEUE = 'visibility-cost';
const temporal = await startTemporal({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'genie-visibility-')), port: await freePort(), uiPort: await freePort(), namespace: 'default' });
const connection = await NativeConnection.connect({ address: temporal.address });
const worker = await Worker.create({
  connection,
  namespace: 'default',
  taskQueue: TASK_QUEUE,
  workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios/floor-workflow.ts'),
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
const settings: StartSettings = { queues: taskQueues(), apiQueue: taskQueues().api('bench'), webhookScheduleMs: [], defaultMaxTokens: 64, asyncNodeWaitMs: 0, eagerStart: true, callerHeldTaskTimeoutMs: 600_000 };
const request = { model: 'qwen3:8b', messages: [{ role: 'user', content: 'Say hello in one short sentence.' }] } as ChatCompletionRequest;
const principal = { keyId: 'key_z', orgId: 'org_bench', applicationId: 'app_x', memberId: 'mem_y', userId: 'usr_w' };

/** What the API starts a sync completion with (api/completion/start-options.ts), on this bench's queue. */
function genieStart(jobId: string) {
  const input = completionInput({ jobId, principal, request, idempotency: null }, 'sync', request.model, settings);
  return { ...startOptions(input, settings), taskQueue: TASK_QUEUE };
}

async function measure(shape: Shape, n: number) {
  const latencies: number[] = [];
  const before = cpuMs({ temporal: temporal.child.pid! }).temporal;
  const stamp = Date.now();
  await closedLoop(n, 4, async (i) => {
    const workflowId = `visibility-${shape}-${stamp}-${i}`;
    const started = performance.now();
    const handle =
      shape === 'bare'
        ? await client.workflow.start('floorLocal', { taskQueue: TASK_QUEUE, workflowId, requestEagerStart: true })
        : await client.workflow.start(shape === 'meta' ? 'floorLocal' : 'floorLocalUpserted', { ...genieStart(workflowId), workflowId, ...(shape === 'full' ? {} : { args: [] }) });
    await handle.result();
    latencies.push(performance.now() - started);
  });
  return { shape, serverCpuMsPerCompletion: round((cpuMs({ temporal: temporal.child.pid! }).temporal - before) / n), startToResultP50Ms: pct(latencies, 50) };
}

const n = Number(process.env.N ?? 200);
for (const shape of SHAPES) await measure(shape, 50); // warm-up
for (let r = 0; r < Number(process.env.ROUNDS ?? 3); r++) for (const shape of SHAPES) console.log(JSON.stringify(await measure(shape, n)));
worker.shutdown();
await running;
await connection.close();
await temporal.stop();
