import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';

/**
 * A test-only CPU hog: one busy-looping process per core, at the same priority as everything else, so
 * every Genie process, Temporal and Postgres compete for the CPU as on a busy machine. Each hog stops
 * by itself after `maxMs` (a crashed test leaves nothing spinning) and when its parent exits.
 */
export async function startCpuHog(maxMs = 120_000): Promise<{ stop(): Promise<void> }> {
  const source = `const end = Date.now() + ${maxMs}; process.on('disconnect', () => process.exit(0)); for (;;) { if (Date.now() > end) process.exit(0); }`;
  const hogs: ChildProcess[] = Array.from({ length: os.cpus().length }, () => spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'] }));
  await Promise.all(hogs.map((h) => new Promise((resolve) => h.once('spawn', resolve))));
  return {
    async stop() {
      await Promise.all(
        hogs.map(
          (h) =>
            new Promise<void>((resolve) => {
              if (h.exitCode !== null) return resolve();
              h.once('exit', () => resolve());
              h.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}
