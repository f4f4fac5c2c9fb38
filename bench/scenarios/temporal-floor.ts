import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { pct } from '../stats.js';

/**
 * Temporal's own floor on this machine and server, in the same run: a one-activity workflow (no
 * database, no node, no HTTP) from `start` to its activity running, and to its result. Whatever Genie
 * adds on top of this is Genie's; this much comes with putting a workflow on the request path.
 */
export async function temporalFloorScenario(temporalAddress: string, namespace: string, runs: number) {
  let activityAt = 0;
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace,
    taskQueue: 'bench-floor',
    workflowsPath: path.join(path.dirname(fileURLToPath(import.meta.url)), 'floor-workflow.ts'),
    activities: { touch: async () => void (activityAt = performance.now()) },
  });
  const running = worker.run();
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace });
  const toActivity: number[] = [];
  const total: number[] = [];
  try {
    for (let i = 0; i < runs + 3; i++) {
      // Unaligned starts, as requests arrive: the server's and SDK's periodic work is not in phase.
      await new Promise((r) => setTimeout(r, Math.random() * 50));
      const t0 = performance.now();
      const handle = await client.workflow.start('floor', { taskQueue: 'bench-floor', workflowId: `bench-floor-${Date.now()}-${i}` });
      await handle.result();
      if (i < 3) continue; // warm-up
      toActivity.push(activityAt - t0);
      total.push(performance.now() - t0);
    }
  } finally {
    worker.shutdown();
    await running;
    await nativeConnection.close();
    await connection.close();
  }
  return { runs, toActivityP50: pct(toActivity, 50), toActivityP99: pct(toActivity, 99), totalP50: pct(total, 50), totalP99: pct(total, 99) };
}
