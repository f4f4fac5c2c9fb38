import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { taskQueues } from '../workflows/definitions.js';
import { registerSearchAttributes } from './temporal-setup.js';

/**
 * The fleet's health probe as a Temporal Schedule (visible and pausable in the UI): `probeFleet` every
 * GENIE_PROBE_INTERVAL_MS, never two at once. Created or updated, idempotently, by every worker start.
 */
export async function ensureProbeSchedule(config: Config, log: Logger): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    // DESIGN §3a: every start makes sure Genie's search attributes exist (idempotent). Where the
    // operator API is not ours to call (a managed cluster), ops register them once (README).
    await registerSearchAttributes(connection, config.TEMPORAL_NAMESPACE).catch((e) => {
      log.warn({ err: (e as Error).message }, 'could not register the search attributes; register them with the temporal CLI (README)');
    });
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const scheduleId = `genie-fleet-probe-${config.GENIE_FLEET}`;
    const options = {
      scheduleId,
      spec: { intervals: [{ every: config.GENIE_PROBE_INTERVAL_MS }] },
      action: {
        type: 'startWorkflow' as const,
        workflowType: 'probeFleet',
        workflowId: scheduleId,
        taskQueue: taskQueues(config.GENIE_TASK_QUEUE_PREFIX).workflows,
        args: [] as [],
        // A probe nobody runs (its fleet's workers are gone) must not linger.
        workflowExecutionTimeout: '1 minute',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    };
    try {
      await client.schedule.create(options);
    } catch (e) {
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
      await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP } }));
    }
  } finally {
    await connection.close();
  }
}
