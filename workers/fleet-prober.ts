import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { taskQueues } from '../workflows/definitions.js';
import { registerSearchAttributes } from './temporal-setup.js';

/**
 * Makes sure the fleet's prober workflow runs (`probeFleet`, one per fleet, workflows/probe-fleet.ts):
 * every worker start asks, idempotently, and the first one starts it. Earlier deployments probed from a
 * Temporal Schedule that started a workflow every few seconds; that schedule is removed here.
 */
export async function ensureFleetProber(config: Config, log: Logger): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    // DESIGN §3a: every start makes sure Genie's search attributes exist (idempotent). Where the
    // operator API is not ours to call (a managed cluster), ops register them once (README).
    await registerSearchAttributes(connection, config.TEMPORAL_NAMESPACE).catch((e) => {
      log.warn({ err: (e as Error).message }, 'could not register the search attributes; register them with the temporal CLI (README)');
    });
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const id = `genie-fleet-probe-${config.GENIE_FLEET}`;
    await client.schedule
      .getHandle(id)
      .delete()
      .then(() => log.info({ scheduleId: id }, 'removed the probe schedule of an earlier deployment; the prober workflow replaces it'))
      .catch((e) => {
        if (!(e instanceof ScheduleNotFoundError)) throw e;
      });
    const queues = taskQueues(config.GENIE_TASK_QUEUE_PREFIX);
    await client.workflow.start('probeFleet', {
      workflowId: id,
      taskQueue: queues.workflows,
      args: [{ queue: queues.inference }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `probes fleet ${config.GENIE_FLEET}: health, models, load and one token per node; the last round is the pending activity's heartbeat`,
    });
  } finally {
    await connection.close();
  }
}
