import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Admission } from '../protocol/completion-job.js';
import type { JobView } from '../protocol/job.js';
import type { Batch } from '../protocol/batch.js';

// Names shared by the API, the workers and the workflow (DESIGN §3a).

/** `prefix` is empty in a normal deployment; tests use it to run isolated deployments side by side. */
export function taskQueues(prefix = '') {
  return {
    workflows: `${prefix}genie-workflows`,
    inference: `${prefix}genie-inference`,
    /**
     * Batches and their lines: polled by the workers only, so a batch's workflow tasks and local steps
     * never run in an API process beside the interactive callers it holds.
     */
    batches: `${prefix}genie-batches`,
    api: (instance: string) => `${prefix}genie-api-${instance}`,
  };
}

export const searchAttributes = {
  orgId: defineSearchAttributeKey('GenieOrgId', SearchAttributeType.KEYWORD),
  applicationId: defineSearchAttributeKey('GenieApplicationId', SearchAttributeType.KEYWORD),
  model: defineSearchAttributeKey('GenieModel', SearchAttributeType.KEYWORD),
  mode: defineSearchAttributeKey('GenieMode', SearchAttributeType.KEYWORD),
  node: defineSearchAttributeKey('GenieNode', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('GenieStatus', SearchAttributeType.KEYWORD),
  /** A batch's workflow and each of its line workflows: `GenieBatchId = "batch_…"` lists them all. */
  batchId: defineSearchAttributeKey('GenieBatchId', SearchAttributeType.KEYWORD),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.values(searchAttributes).map((k) => k.name);

/** The job as GET /v1/jobs/:id shows it, straight from workflow state, with its owner for the org check. */
export const jobQuery = defineQuery<{ orgId: string; job: JobView }>('job');

/**
 * Returns once admission is decided (model known; budget reserved once caps exist), so the API can
 * answer 202 — or the refusal — before inference starts. Sent with update-with-start.
 */
export const admitUpdate = defineUpdate<Admission>('admit');

/**
 * POST /v1/batches/:id/cancel. Returns once the batch workflow has stopped starting lines and the batch
 * reads `cancelling`: no line starts after the caller got its answer.
 */
export const cancelBatchUpdate = defineUpdate<Batch>('cancelBatch');

/** To a batch's running lines when the batch is cancelled: a line waiting for a cap's reset stops waiting. */
export const batchCancelledSignal = defineSignal('batchCancelled');
