// One shared embedded stack per Jest run (DESIGN §7): Postgres, Temporal dev server, a simulator node,
// a worker and an API, all on free loopback ports, started through the same launcher as `make dev`.
import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export default async function globalSetup() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-test-'));
  chmodSync(dataDir, 0o777);
  const logFile = path.join(dataDir, 'stack.log');
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/dev.ts', '--free-ports', '--json', '--verbose'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      GENIE_DATA_DIR: dataDir,
      // The suite's fleet is the stack's simulators, whatever a developer's shell exports.
      GENIE_NODES: '',
      GENIE_NODES_FILE: '',
      GENIE_SIM_TTFT_MS: '5',
      GENIE_SIM_ITL_MS: '1',
      GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,300ms,300ms,300ms,300ms',
      GENIE_PROBE_INTERVAL_MS: '2000',
      // Test files run two at a time on this stack: one file's sync requests would make another's batch
      // lines yield (interactive first). The yield is tested on isolated deployments (batch-yield).
      GENIE_BATCH_YIELD_MS: '0',
      // The suite runs scaled out (issue 9): two APIs and two workers on one Temporal and one Postgres,
      // every test's requests spread over both APIs (see testStack()). GENIE_TEST_APIS=1 … to change it.
      GENIE_APIS: process.env.GENIE_TEST_APIS ?? '2',
      GENIE_WORKERS: process.env.GENIE_TEST_WORKERS ?? '2',
      GENIE_LOG_LEVEL: process.env.GENIE_LOG_LEVEL ?? 'warn',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const logs = [];
  createInterface({ input: child.stderr }).on('line', (l) => {
    logs.push(l);
    if (logs.length > 200) logs.shift();
  });
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test stack not ready in 120 s:\n${logs.join('\n')}`)), 120_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"stack.ready"')) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test stack exited with code ${code}:\n${logs.join('\n')}`));
    });
  });
  const stateFile = path.join(dataDir, 'stack.json');
  writeFileSync(stateFile, JSON.stringify(info));
  process.env.GENIE_TEST_STACK = stateFile;
  globalThis.__GENIE_STACK__ = { child, dataDir, logFile, logs };
}
