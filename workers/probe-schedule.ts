import { Client, Connection, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Config } from './config.js';
import { taskQueues } from '../workflows/definitions.js';

/**
 * The fleet's health probe as a Temporal Schedule (visible and pausable in the UI): `probeFleet` every
 * GENIE_PROBE_INTERVAL_MS, never two at once. Created or updated, idempotently, by every worker start.
 */
export async function ensureProbeSchedule(config: Config): Promise<void> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
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
