// The workflow bundle's entry: every workflow the worker serves.
export { chatCompletion } from './chat-completion.js';
export { probeFleet } from './probe-fleet.js';
export { budgetSweep } from './budget-sweep.js';
export { retentionSweep } from './retention-sweep.js';
export { batchRun } from './batch.js';
export { batchLine } from './batch-line.js';
