import { rmSync } from 'node:fs';

export default async function globalTeardown() {
  const stack = globalThis.__GENIE_STACK__;
  if (!stack) return;
  const { child, dataDir } = stack;
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.stdin.end(); // the launcher stops everything when its stdin closes
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
