import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface Managed {
  name: string;
  child: ChildProcess;
  /** The JSON "ready" line the process printed. */
  ready: Record<string, unknown>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a TypeScript entrypoint of this repo as its own process (node --import tsx) and waits for the
 * line `{"event":"<readyEvent>", …}` on stdout. Other output is passed to `onLine` (logs).
 */
export async function spawnEntrypoint(opts: {
  name: string;
  script: string;
  args?: string[];
  /** Flags for node itself, before the script (e.g. --inspect). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  readyEvent: string;
  onLine?: (name: string, line: string) => void;
  timeoutMs?: number;
}): Promise<Managed> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), '--import', 'tsx', path.join(ROOT, opts.script), ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env, GENIE_EXIT_WITH_PARENT: '1' },
    // stdin stays open as a lifeline: it closes when the launcher dies, however it dies.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  return waitReady(opts.name, child, opts.readyEvent, opts.onLine, opts.timeoutMs ?? 60_000);
}

export function waitReady(
  name: string,
  child: ChildProcess,
  readyEvent: string,
  onLine: ((name: string, line: string) => void) | undefined,
  timeoutMs: number,
  /** For processes that print no JSON ready line: a predicate on plain lines. */
  isReady?: (line: string) => boolean,
): Promise<Managed> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const tail: string[] = [];
    const timer = setTimeout(() => fail(new Error(`${name} not ready after ${timeoutMs} ms`)), timeoutMs);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${e.message}\n--- last output of ${name} ---\n${tail.join('\n')}`));
    };
    const handle = (line: string) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (!settled && isReady?.(line)) {
        settled = true;
        clearTimeout(timer);
        resolve({ name, child, ready: { line }, stop: (signal) => stopChild(child, signal) });
        return;
      }
      if (!settled && line.startsWith('{') && line.includes(readyEvent)) {
        try {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if (msg.event === readyEvent) {
            settled = true;
            clearTimeout(timer);
            resolve({ name, child, ready: msg, stop: (signal) => stopChild(child, signal) });
            return;
          }
        } catch {
          /* an ordinary log line */
        }
      }
      onLine?.(name, line);
    };
    createInterface({ input: child.stdout! }).on('line', handle);
    createInterface({ input: child.stderr! }).on('line', handle);
    child.once('exit', (code, signal) => fail(new Error(`${name} exited early (code ${code}, signal ${signal})`)));
    child.once('error', (e) => fail(e));
  });
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}
