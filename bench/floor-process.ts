import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createDesignFloor, type DesignFloorOptions } from './design-floor.js';
import { closedLoop } from './genie-client.js';

// A process of its own that runs Temporal's floor shapes (scenarios/floor-workflow.ts) the way Genie's
// API runs a sync completion: eager starts from a Client on the worker's connection, workflow tasks on
// the main thread (debugMode), the lean sandbox. The parent pins it like the API and reads its CPU from
// /proc, so the SDK's own share of a completion is measured apart from Genie's code (floor-cpu.ts).
// Protocol (IPC): parent sends {shape, n, concurrency, moveOn?}; child answers {eagerFraction, toGenerateMs}
// when all closed (toGenerateMs: floorLocal's start → generate per workflow, what a sync caller waits for).
// moveOn: each loop starts its next workflow as soon as generate ran, as a sync caller answered by
// `generateHere` sends its next request while the workflow it left still closes; without it, each
// waits for its workflow's result first, so every start meets a server with nothing else to do.
// The async shape's activity worker runs in this process too, so its CPU counts with the shape's.

process.env.TEMPORAL_WORKFLOW_STACK_TRACES = 'off';
Runtime.install({ logger: new DefaultLogger('WARN') });
const [address, namespace, taskQueue, designArg] = process.argv.slice(2);
/** As workers/workflow-sandbox.ts sets it for Genie: no watchdog per call into the sandbox (patched SDK). */
const LEAN_SANDBOX = { isolateExecutionTimeout: 0 };
const connection = await NativeConnection.connect({ address });
const client = new Client({ connection, namespace });
// The design's floor (design-floor.ts), when the parent gives it Genie's database, key and node.
const design = designArg ? await createDesignFloor({ ...(JSON.parse(designArg) as Omit<DesignFloorOptions, 'client' | 'taskQueue'>), client, taskQueue }) : null;
const waiting = new Map<string, (at: number) => void>();
const worker = await Worker.create({
  connection,
  namespace,
  taskQueue,
  workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'scenarios/floor-workflow.ts'),
  activities: {
    touch: async () => undefined,
    admit: async () => undefined,
    // Resolves the starter in process, as `generateHere` hands a sync caller its body.
    generate: async () => void waiting.get(Context.current().info.workflowExecution?.workflowId ?? '')?.(performance.now()),
    settle: async () => undefined,
    ...design?.activities,
  },
  maxConcurrentWorkflowTaskExecutions: 64,
  maxConcurrentLocalActivityExecutions: 64,
  maxConcurrentWorkflowTaskPolls: 2,
  debugMode: true,
  ...LEAN_SANDBOX,
});
// The async shape's node call runs on a queue of its own, as Genie's does on the workers.
const activityQueue = `${taskQueue}-activities`;
const activityWorker = await Worker.create({ connection, namespace, taskQueue: activityQueue, activities: { touch: async () => undefined } });
const running = Promise.all([worker.run(), activityWorker.run()]);

process.on('message', async (m: { shape: 'floorLocal' | 'floorEmpty' | 'floorAsync'; n: number; concurrency: number; moveOn?: boolean } | 'stop') => {
  if (m === 'stop') {
    worker.shutdown();
    activityWorker.shutdown();
    await running;
    await design?.close();
    await connection.close();
    process.exit(0);
  }
  let eager = 0;
  const closing: Promise<unknown>[] = [];
  const toGenerateMs = await closedLoop(m.n, m.concurrency, async (i) => {
    const workflowId = `bench-floor-cpu-${m.shape}-${Date.now()}-${i}`;
    const t0 = performance.now();
    const generated = m.shape === 'floorLocal' ? new Promise<number>((r) => waiting.set(workflowId, r)) : Promise.resolve(NaN);
    const handle = await client.workflow.start(m.shape, { taskQueue, workflowId, requestEagerStart: true, args: m.shape === 'floorAsync' ? [activityQueue] : [] });
    if (handle.eagerlyStarted) eager++;
    const generateAt = await generated;
    waiting.delete(workflowId);
    if (m.moveOn) closing.push(handle.result());
    else await handle.result();
    return generateAt - t0;
  });
  await Promise.all(closing);
  process.send!({ eagerFraction: eager / m.n, toGenerateMs });
});
// A parent that died (a failed bench run) leaves no floor process behind.
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true, designUrl: design?.url ?? null });
