import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { ROOT } from '../../workers/stack/processes.js';
import { cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';

/**
 * What Temporal alone costs in CPU for the shapes of Genie's completions: a child process runs them as
 * the API runs a sync completion (bench/floor-process.ts), pinned to the targets' core, and its CPU and
 * the Temporal server's are read from /proc over `n` workflows at `concurrency`. Beside
 * cpu-per-completion.ts's figures this splits Genie's API CPU into the SDK's share (this floor) and
 * Genie's own code, and the server's CPU per sync completion into the shape's floor and what Genie adds
 * (search attributes, details, larger payloads).
 */
export async function floorCpuScenario(opts: { temporalAddress: string; namespace: string; temporalPid: number | null; pinCore: string | null; n: number; concurrency: number }) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench/floor-process.ts'), opts.temporalAddress, opts.namespace, 'bench-floor-cpu'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [ready] = await once(child, 'message');
    if (ready !== 'ready') throw new Error(`floor process said ${JSON.stringify(ready)}`);
    if (opts.pinCore !== null) spawnSync('taskset', ['-acp', opts.pinCore, String(child.pid)]);
    const pids = { process: child.pid!, temporal: opts.temporalPid };
    const run = async (shape: 'floorLocal' | 'floorEmpty' | 'floorAsync', n: number) => {
      const before = cpuMs(pids);
      const t0 = performance.now();
      child.send({ shape, n, concurrency: opts.concurrency });
      const [answer] = (await once(child, 'message')) as [{ eagerFraction: number }];
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
  } finally {
    child.send('stop');
    await once(child, 'exit');
  }
}
