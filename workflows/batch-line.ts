import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  makeContinueAsNewFunc,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BatchLineInput, LineOutcome, LineResponse } from '../protocol/batch.js';
import type { Principal } from '../protocol/principal.js';
import { errorBodyOf, errorEnvelopeOf, retryAtOf } from '../protocol/failures.js';
import { shortStep, untilPostgresAnswers } from './activity-options.js';
import { chatCompletion } from './chat-completion.js';
import { JobState } from './job-state.js';
import { batchCancelledSignal, jobQuery, searchAttributes } from './definitions.js';

const { loadBatchLine } = proxyLocalActivities<Activities>(shortStep);
const { recordBatchLine } = proxyLocalActivities<Activities>(untilPostgresAnswers);

/** Past a cap's `resetsAt` before a deferred line tries again: the reservation's clock is Postgres's, not this worker's. */
const AFTER_RESET_MS = 1000;

/**
 * One line of a batch: its request loaded from Postgres, then run as the very `chatCompletion` an async
 * job runs (admission across the cap layers, node selection, failover, settlement), in this workflow —
 * the line is one workflow, `chatcmpl-<jobId>`, and ops find it by that id or by `GenieBatchId`. Its
 * answer (the body, or the error body with its HTTP status: a 402 keeps the seed's fields) is recorded
 * once, and only its outcome goes back to the batch workflow, so the batch's history stays small.
 *
 * Deferred, not failed: a line refused by a cap whose window resets before the batch's deadline, and
 * that the reset would let through (its reservation fits the cap's limit), waits for the reset and
 * continues as new — a fresh run, gated afresh (budgets are per run), the same workflow id, nothing
 * recorded or billed for the refused run. The batch's cancel wakes it (its signal, or for a run begun
 * after the cancel, the batch's status read at load): it then records its 402.
 */
export async function batchLine(input: BatchLineInput & { principal: Principal }): Promise<{ outcome: LineOutcome }> {
  /** This line's wait if it waits for a cap's reset now (1 on its first run). */
  const deferral = (input.deferrals ?? 0) + 1;
  let batchCancelled = false;
  setHandler(batchCancelledSignal, () => void (batchCancelled = true));
  // `yieldMs` is absent from loads recorded before interactive-first: those replay without a wait.
  // `batchCancelling` is absent from loads recorded before it existed: those replay as they ran.
  const { job, yieldMs = 0, batchCancelling = false } = await loadBatchLine.executeWithOptions({ ...shortStep, summary: `load line ${input.line + 1}` }, [input]);
  // The batch was cancelled before this run began: its signal went to no run of this line.
  if (batchCancelling) batchCancelled = true;
  upsertSearchAttributes([{ key: searchAttributes.model, value: job.request.model }]);
  let response: LineResponse;
  let retryAt: string | null = null;
  try {
    // Interactive first: a line that finds sync/stream callers being served waits once, then runs
    // whatever the traffic (so a batch always moves). Inside the try: an expiry's cancel of a waiting
    // line records its 499 like a running line's.
    if (yieldMs > 0) await sleep(yieldMs, { summary: 'interactive traffic goes first' });
    const out = await chatCompletion(job);
    response = { status_code: 200, request_id: job.workflowId, body: out.completion! };
  } catch (e) {
    const body = errorBodyOf(e);
    response = { status_code: body.status, request_id: job.workflowId, body: errorEnvelopeOf(body) };
    retryAt = retryAtOf(e);
  }
  // Lines started without a deadline (before deferral existed) replay as they ran: refused is failed.
  if (retryAt && input.deadlineMs !== undefined && (await waitedForReset(retryAt, input.deadlineMs))) {
    const again = makeContinueAsNewFunc<typeof batchLine>({ typedSearchAttributes: workflowInfo().typedSearchAttributes.updateCopy([{ key: searchAttributes.status, value: 'queued' }]) });
    return again({ ...input, deferrals: deferral });
  }
  const outcome: LineOutcome = response.status_code === 200 ? 'completed' : 'failed';
  // Recorded even when the line was cancelled: its answer (a 499) is what the error file shows.
  await CancellationScope.nonCancellable(() =>
    recordBatchLine.executeWithOptions({ ...untilPostgresAnswers, summary: `record line ${input.line + 1}: ${response.status_code}` }, [{ batchId: input.batchId, line: input.line, outcome, response }]),
  );
  return { outcome };

  /** True once the cap has reset; false (record the 402) when that is past the deadline, or the batch was cancelled or expired meanwhile. */
  async function waitedForReset(resetsAt: string, deadlineMs: number): Promise<boolean> {
    const wakeAt = Date.parse(resetsAt) + AFTER_RESET_MS;
    if (batchCancelled || wakeAt >= deadlineMs) return false;
    // Its job (GET /v1/jobs/:id) reads queued while it waits — the view a fresh run starts with — not the
    // refusal its next run replaces.
    const queued = new JobState(job).view;
    setHandler(jobQuery, () => ({ orgId: input.principal.orgId, job: queued }));
    setCurrentDetails(`**deferred** until ${resetsAt}: a budget cap was hit, and its reset lets this line through · deferral ${deferral}`);
    log.info('batch line deferred until its cap resets', { line: input.line, resetsAt, deferrals: deferral });
    try {
      return !(await condition(() => batchCancelled, wakeAt - Date.now()));
    } catch (e) {
      if (isCancellation(e)) return false; // the batch's window passed: the expiry's record stands
      throw e;
    }
  }
}
