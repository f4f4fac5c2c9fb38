import { spawnSync } from 'node:child_process';
import { launchStack, type Stack } from '../workers/stack/launch.js';

// The stack every bench entrypoint measures (bench/run.ts, bench/ttft-trace.ts) and where its processes
// run, so two tools never compare stacks set up differently.

/** Genie's embedded stack on free loopback ports, the simulator at TTFT 20 ms and 5 ms between tokens. */
export function launchBenchStack(dataDir: string, opts: { env?: Record<string, string>; apiNodeArgs?: string[] } = {}): Promise<Stack> {
  return launchStack({
    dataDir,
    freePorts: true,
    ports: { api: 0, temporal: 0, ui: 0, postgres: 0, vllm: 0, triton: 0, tritonMetrics: 0, workerMetrics: 0 },
    simulator: { ttftMs: 20, itlMs: 5 },
    env: { GENIE_LOG_LEVEL: 'warn', ...opts.env },
    apiNodeArgs: opts.apiNodeArgs,
    log: () => undefined,
  });
}

/** The URL of the stack's first node (the vLLM simulator). */
export const simulatorUrl = (stack: Stack) => stack.nodes.split(',')[0].split('=')[1];

/** Load generator (this process) on core 0, every target process on core 1: they never compete for a core. */
export function pinTargets(pids: Array<number | null | undefined>): void {
  spawnSync('taskset', ['-acp', '0', String(process.pid)]);
  for (const pid of new Set(pids)) if (pid) spawnSync('taskset', ['-acp', '1', String(pid)]);
}
