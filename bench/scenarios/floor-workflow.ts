import { proxyActivities } from '@temporalio/workflow';

// The smallest workflow shaped like Genie's sync path: one workflow task, one activity, one more task.
const { touch } = proxyActivities<{ touch(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function floor(): Promise<void> {
  await touch();
}
