import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { ROOT } from '../../workers/stack/processes.js';
import { cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';

export type FloorShape = 'floorLocal' | 'floorEmpty' | 'floorAsync';
export interface FloorProcess {
  pid: number;
  /** The design floor's HTTP endpoint (design-floor.ts), when it was asked for. */
  designUrl: string | null;
  /**
   * Runs `n` workflows of `shape`, `concurrency` in flight; resolves once every one has closed. With
   * `moveOn`, each next start goes as soon as the previous workflow's generate ran (see floor-process.ts).
   */
  run(shape: FloorShape, n: number, concurrency: number, moveOn?: boolean): Promise<{ eagerFraction: number; toGenerateMs: number[] }>;
  stop(): Promise<void>;
}

/**
 * The floor's own process (bench/floor-process.ts), set up as the API runs a sync completion and
 * pinned to the API's core, so Temporal's share is measured where Genie's API pays it: its CPU here,
 * its start → generate latency in the latency scenario's rounds.
 */
export async function spawnFloorProcess(opts: {
  temporalAddress: string;
  namespace: string;
  pinCore: string | null;
  /** Genie's database, the bench key and a node: the process then serves the design floor too. */
  design?: { databaseUrl: string; apiKey: string; nodeUrl: string };
}): Promise<FloorProcess> {
  const args = [path.join(ROOT, 'bench/floor-process.ts'), opts.temporalAddress, opts.namespace, 'bench-floor-cpu', ...(opts.design ? [JSON.stringify(opts.design)] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ ready?: boolean; designUrl: string | null }];
  if (ready?.ready !== true) throw new Error(`floor process said ${JSON.stringify(ready)}`);
  if (opts.pinCore !== null) spawnSync('taskset', ['-acp', opts.pinCore, String(child.pid)]);
  // One run at a time: answers are matched to requests by order.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    pid: child.pid!,
    designUrl: ready.designUrl,
    run(shape, n, concurrency, moveOn = false) {
      const answer = queue.then(async () => {
        child.send({ shape, n, concurrency, moveOn });
        const [a] = (await once(child, 'message')) as [{ eagerFraction: number; toGenerateMs: number[] }];
        return a;
      });
      queue = answer.catch(() => undefined);
      return answer;
    },
    async stop() {
      child.send('stop');
      await once(child, 'exit');
    },
  };
}

/**
 * What Temporal alone costs in CPU for the shapes of Genie's completions: a child process runs them as
 * the API runs a sync completion (bench/floor-process.ts), pinned to the targets' core, and its CPU and
 * the Temporal server's are read from /proc over `n` workflows at `concurrency`. Beside
 * cpu-per-completion.ts's figures this splits Genie's API CPU into the SDK's share (this floor) and
 * Genie's own code, and the server's CPU per sync completion into the shape's floor and what Genie adds
 * (search attributes, details, larger payloads).
 */
export async function floorCpuScenario(opts: { floor: FloorProcess; temporalPid: number | null; n: number; concurrency: number }) {
  const pids = { process: opts.floor.pid, temporal: opts.temporalPid };
  const run = async (shape: FloorShape, n: number) => {
    const before = cpuMs(pids);
    const t0 = performance.now();
    const answer = await opts.floor.run(shape, n, opts.concurrency);
    const used = cpuDelta(before, cpuMs(pids));
    return {
      processMs: round(used.process / n),
      temporalMs: round(used.temporal / n),
      workflowsPerSecond: round(n / ((performance.now() - t0) / 1000)),
      eagerFraction: round(answer.eagerFraction),
    };
  };
  await run('floorLocal', 20); // warm-up: the sandbox's first contexts, the connection's first streams
  const localActivities = await run('floorLocal', opts.n);
  const empty = await run('floorEmpty', opts.n);
  const asyncShape = await run('floorAsync', opts.n);
  return { n: opts.n, concurrency: opts.concurrency, localActivitiesEager: localActivities, emptyEager: empty, asyncShape };
}
