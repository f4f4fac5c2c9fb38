import { continueAsNew, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** How long one `probeFleetRounds` runs before it reports back; 24 of them make a run (a day). */
const ROUNDS_FOR_MS = 55 * 60_000;
const RUNS_BEFORE_CONTINUE = 24;

const probing: ActivityOptions = {
  startToCloseTimeout: '1h',
  // The worker probing died or stopped: another one takes over within this, with no probe history lost
  // (the verdicts live in the node registry).
  heartbeatTimeout: '30s',
  // Forever: a fleet is probed for as long as it has workers.
  retry: { initialInterval: '1s', maximumInterval: '10s' },
};
const { probeFleetRounds } = proxyActivities<Activities>(probing);

/**
 * The fleet's prober: one long-running workflow per fleet (`genie-fleet-probe-<fleet>`) whose single
 * activity probes every node each GENIE_PROBE_INTERVAL_MS, records the verdicts in the node registry
 * and heartbeats the last round's summary (what ops see on the pending activity in the Temporal UI).
 * Probing costs Temporal one heartbeat per ~24 s instead of a workflow per probe; the history grows
 * by a few events an hour and starts afresh every day.
 */
export async function probeFleet(input: { queue: string }): Promise<void> {
  for (let i = 0; i < RUNS_BEFORE_CONTINUE; i++) {
    await probeFleetRounds.executeWithOptions(
      { ...probing, taskQueue: input.queue, summary: 'probe every node of the fleet for the next hour' },
      [{ forMs: ROUNDS_FOR_MS }],
    );
  }
  await continueAsNew<typeof probeFleet>(input);
}
