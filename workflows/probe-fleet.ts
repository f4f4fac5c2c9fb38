import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

const { probeNodes } = proxyActivities<Activities>({
  // A probe round is cheap and the next one is seconds away: no retries, a short deadline.
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 1 },
});

/** Started by the fleet's probe Schedule every few seconds: one probe round over the registry. */
export async function probeFleet(): Promise<{ probed: number; healthy: number }> {
  return probeNodes();
}
