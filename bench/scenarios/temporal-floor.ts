import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { Client, Connection, type WorkflowHandleWithStartDetails } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { historyLength } from '../history-length.js';
import { pct, round } from '../stats.js';

/**
 * Temporal's own floor on this machine and server, in the same run, for three workflow shapes with no
 * work in them (no database, no node, no HTTP):
 *   (a) `floorEmpty`, started eagerly: start → result;
 *   (b) `floorLocal`, admit → generate → settle as local activities, started eagerly: start → generate
 *       (what a sync caller waits for: `generate` hands its body over in process) and → result;
 *   (c) `floor`, one regular activity, started by a plain Client (today's shape): start → activity
 *       running and → result.
 * Whatever Genie adds on top of (b) is Genie's; that much comes with a workflow on the request path.
 * Eager start needs the Client on the worker's own NativeConnection and a free workflow-task slot; a
 * start the server declines quietly runs dispatched, so eager starts are counted, not assumed.
 */
export async function temporalFloorScenario(temporalAddress: string, namespace: string, runs: number) {
  let activityAt = 0;
  // generate() resolves the starter's promise in process, as the API hands a sync caller its body.
  const waiting = new Map<string, (at: number) => void>();
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue: 'bench-floor',
    workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-workflow.ts'),
    activities: {
      touch: async () => void (activityAt = performance.now()),
      admit: async () => undefined,
      generate: async () => void waiting.get(Context.current().info.workflowExecution?.workflowId ?? '')?.(performance.now()),
      settle: async () => undefined,
    },
    // Slots to spare (the burst below keeps 20 workflows in flight): a start finding none free is not eager.
    maxConcurrentWorkflowTaskExecutions: 64,
    maxConcurrentLocalActivityExecutions: 64,
  });
  const running = worker.run();
  const eagerClient = new Client({ connection: nativeConnection, namespace });
  const connection = await Connection.connect({ address: temporalAddress });
  const plainClient = new Client({ connection, namespace });

  /** `runs` unaligned starts (plus 3 warm-up) of one shape; `run` returns its named timings since t0 (ms). */
  const shape = async (name: string, run: (workflowId: string, t0: number) => Promise<{ handle: WorkflowHandleWithStartDetails; times: Record<string, number> }>): Promise<Record<string, number>> => {
    const times: Record<string, number[]> = {};
    let eager = 0;
    let lastId = '';
    for (let i = 0; i < runs + 3; i++) {
      // Unaligned starts, as requests arrive: the server's and SDK's periodic work is not in phase.
      await new Promise((r) => setTimeout(r, Math.random() * 50));
      const workflowId = `bench-${name}-${Date.now()}-${i}`;
      const { handle, times: t } = await run(workflowId, performance.now());
      if (i < 3) continue; // warm-up
      if (handle.eagerlyStarted) eager++;
      for (const [k, v] of Object.entries(t)) (times[k] ??= []).push(v);
      lastId = workflowId;
    }
    const figures = Object.fromEntries(Object.entries(times).flatMap(([k, xs]) => [[`${k}P50`, pct(xs, 50)], [`${k}P99`, pct(xs, 99)]]));
    return { ...figures, eagerFraction: round(eager / runs), historyEvents: await historyLength(plainClient, lastId) };
  };

  try {
    const empty = await shape('floor-empty', async (workflowId, t0) => {
      const handle = await eagerClient.workflow.start('floorEmpty', { taskQueue: 'bench-floor', workflowId, requestEagerStart: true });
      await handle.result();
      return { handle, times: { total: performance.now() - t0 } };
    });
    const localSteps = await shape('floor-local', async (workflowId, t0) => {
      const generated = new Promise<number>((resolve) => waiting.set(workflowId, resolve));
      const handle = await eagerClient.workflow.start('floorLocal', { taskQueue: 'bench-floor', workflowId, requestEagerStart: true });
      const generateAt = await generated;
      waiting.delete(workflowId);
      await handle.result();
      return { handle, times: { toGenerate: generateAt - t0, total: performance.now() - t0 } };
    });
    const oneActivity = await shape('floor', async (workflowId, t0) => {
      const handle = await plainClient.workflow.start('floor', { taskQueue: 'bench-floor', workflowId });
      await handle.result();
      return { handle, times: { toActivity: activityAt - t0, total: performance.now() - t0 } };
    });
    const burst = await emptyBurst(eagerClient, 200, 20);
    return {
      runs,
      emptyEager: empty,
      emptyEagerBurst: burst,
      localActivitiesEager: localSteps,
      oneActivity,
      // Shape (c) also at the top level, where earlier results had it, so they stay comparable.
      toActivityP50: oneActivity.toActivityP50,
      toActivityP99: oneActivity.toActivityP99,
      totalP50: oneActivity.totalP50,
      totalP99: oneActivity.totalP99,
    };
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
  }
}

/**
 * The ceiling of any workflow-per-job design on this server: empty workflows, started eagerly, `n` of
 * them with `concurrency` in flight (closed loop, like the async scenario's 20 callers). Nothing Genie
 * does can make its async jobs faster than this, nor their 202 (a start) quicker than `startP99`.
 */
async function emptyBurst(client: Client, n: number, concurrency: number) {
  const starts: number[] = [];
  const totals: number[] = [];
  let next = 0;
  let eager = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        const handle = await client.workflow.start('floorEmpty', { taskQueue: 'bench-floor', workflowId: `bench-floor-burst-${Date.now()}-${i}`, requestEagerStart: true });
        starts.push(performance.now() - s);
        if (handle.eagerlyStarted) eager++;
        await handle.result();
        totals.push(performance.now() - s);
      }
    }),
  );
  return {
    n,
    concurrency,
    workflowsPerSecond: round(n / ((performance.now() - t0) / 1000)),
    startP50: pct(starts, 50),
    startP99: pct(starts, 99),
    totalP50: pct(totals, 50),
    totalP99: pct(totals, 99),
    eagerFraction: round(eager / n),
  };
}
