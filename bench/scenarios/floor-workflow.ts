import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

// The smallest workflows shaped like Genie's paths, for the Temporal floor (temporal-floor.ts).

const { touch } = proxyActivities<{ touch(): Promise<void> }>({ startToCloseTimeout: '10s' });
const steps = proxyLocalActivities<{ admit(): Promise<void>; generate(): Promise<void>; settle(): Promise<void> }>({ startToCloseTimeout: '10s' });

/** Today's sync shape: one workflow task, one (regular) activity, one more task. */
export async function floor(): Promise<void> {
  await touch();
}

/** Nothing at all: one workflow task that completes the workflow. */
export async function floorEmpty(): Promise<void> {}

/** The shape Genie is moving to: admit → generate → settle as local activities, all in the first task. */
export async function floorLocal(): Promise<void> {
  await steps.admit();
  await steps.generate();
  await steps.settle();
}

/**
 * An async job's shape with no work inside: admit (local) → the node call as a regular activity on
 * another task queue (the workers') → settle and one webhook attempt (local), as Genie's async path.
 */
export async function floorAsync(activityQueue: string): Promise<void> {
  const { touch: generate } = proxyActivities<{ touch(): Promise<void> }>({ startToCloseTimeout: '10s', taskQueue: activityQueue });
  await steps.admit();
  await generate();
  await steps.settle();
  await steps.settle(); // the webhook attempt
}
