import { proxyActivities, proxyLocalActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes } from '../../workflows/definitions.js';

// The smallest workflows shaped like Genie's paths, for the Temporal floor (temporal-floor.ts).

const { touch } = proxyActivities<{ touch(): Promise<void> }>({ startToCloseTimeout: '10s' });
// No retry: a failed floor request is a failed bench run, not a second reservation.
const serve = proxyLocalActivities<{ serve(): Promise<unknown> }>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });
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
 * The floor of Genie's design for a caller-held completion (design-floor.ts): one local activity that
 * reserves, calls the node, settles and answers the caller; its result (node, tokens) is what ops read.
 */
export async function floorDesign(): Promise<unknown> {
  return await serve.serve();
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

/**
 * Shape (b) ending as a caller-held completion ends: GenieStatus and GenieNode upserted once, the
 * details set; its input, if any, handed back as the result (a payload each way). For visibility-cost.ts.
 */
export async function floorLocalUpserted(input?: unknown): Promise<unknown> {
  await floorLocal();
  upsertSearchAttributes([
    { key: searchAttributes.status, value: 'completed' },
    { key: searchAttributes.node, value: 'node-a' },
  ]);
  setCurrentDetails('**completed** on `node-a`  \ntokens: 12 in / 64 out');
  return input;
}
