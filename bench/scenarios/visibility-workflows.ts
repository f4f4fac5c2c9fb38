import { proxyLocalActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { searchAttributes } from '../../workflows/definitions.js';

// Shape (b) of the floor (admit → generate → settle as local activities, nothing inside), with and
// without what Genie adds to it for ops: for bench/visibility-cost.ts.

const steps = proxyLocalActivities<{ admit(): Promise<void>; generate(): Promise<void>; settle(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function bare(): Promise<void> {
  await steps.admit();
  await steps.generate();
  await steps.settle();
}

/** As a caller-held completion ends: GenieStatus and GenieNode upserted once, the details set. */
export async function upserted(input?: { pad: string }): Promise<{ pad: string } | void> {
  await bare();
  upsertSearchAttributes([
    { key: searchAttributes.status, value: 'completed' },
    { key: searchAttributes.node, value: 'node-a' },
  ]);
  setCurrentDetails('**completed** on `node-a`  \ntokens: 12 in / 64 out');
  if (input) return { pad: input.pad.slice(0, 1200) };
}
