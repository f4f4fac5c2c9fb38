import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { CompletionRun } from '../protocol/budget.js';

// The sweepers (budget reservations, retention) act on rows whose workflow is no longer running: they
// ask Temporal, which owns that truth, rather than infer it from Postgres.

/** What Temporal says of a reservation's run: running, closed (how), or unknown (never, or past retention). */
export type WorkflowState = { state: 'running' } | { state: 'closed'; status: string } | { state: 'unknown' };
export type WorkflowStateOf = (run: CompletionRun) => Promise<WorkflowState>;

/**
 * Reads run states through a Temporal client: the reservation's own run (a reset closes it, and its new
 * run reserves for itself); a reservation written before runs were recorded (run '') asks for the
 * workflow's latest run.
 */
export function workflowStateFrom(client: Client): WorkflowStateOf {
  return async ({ workflowId, runId }) => {
    try {
      const status = (await client.workflow.getHandle(workflowId, runId || undefined).describe()).status.name;
      return status === 'RUNNING' ? { state: 'running' } : { state: 'closed', status };
    } catch (e) {
      // NOT_FOUND = 5; a client over the worker's NativeConnection may not map it to WorkflowNotFoundError.
      if (e instanceof WorkflowNotFoundError || (e as { code?: unknown }).code === 5) return { state: 'unknown' };
      throw e;
    }
  };
}

/** Asks about many runs, a bounded number at a time (a sweep may look at a thousand). */
export async function statesOf<T extends CompletionRun>(runs: T[], stateOf: WorkflowStateOf, concurrency = 16): Promise<WorkflowState[]> {
  const states: WorkflowState[] = [];
  for (let i = 0; i < runs.length; i += concurrency) states.push(...(await Promise.all(runs.slice(i, i + concurrency).map((r) => stateOf(r)))));
  return states;
}
