import { CancellationScope, proxyLocalActivities, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BatchLineInput, LineOutcome, LineResponse } from '../protocol/batch.js';
import type { Principal } from '../protocol/principal.js';
import { errorBodyOf, errorEnvelopeOf } from '../protocol/failures.js';
import { shortStep, untilPostgresAnswers } from './activity-options.js';
import { chatCompletion } from './chat-completion.js';
import { searchAttributes } from './definitions.js';

const { loadBatchLine } = proxyLocalActivities<Activities>(shortStep);
const { recordBatchLine } = proxyLocalActivities<Activities>(untilPostgresAnswers);

/**
 * One line of a batch: its request loaded from Postgres, then run as the very `chatCompletion` an async
 * job runs (admission across the cap layers, node selection, failover, settlement), in this workflow —
 * the line is one workflow, `chatcmpl-<jobId>`, and ops find it by that id or by `GenieBatchId`. Its
 * answer (the body, or the error body with its HTTP status: a 402 keeps the seed's fields) is recorded
 * once, and only its outcome goes back to the batch workflow, so the batch's history stays small.
 */
export async function batchLine(input: BatchLineInput & { principal: Principal }): Promise<{ outcome: LineOutcome }> {
  // `yieldMs` is absent from loads recorded before interactive-first: those replay without a wait.
  const { job, yieldMs = 0 } = await loadBatchLine.executeWithOptions({ ...shortStep, summary: `load line ${input.line + 1}` }, [input]);
  upsertSearchAttributes([{ key: searchAttributes.model, value: job.request.model }]);
  let response: LineResponse;
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
  }
  const outcome: LineOutcome = response.status_code === 200 ? 'completed' : 'failed';
  // Recorded even when the line was cancelled: its answer (a 499) is what the error file shows.
  await CancellationScope.nonCancellable(() =>
    recordBatchLine.executeWithOptions({ ...untilPostgresAnswers, summary: `record line ${input.line + 1}: ${response.status_code}` }, [{ batchId: input.batchId, line: input.line, outcome, response }]),
  );
  return { outcome };
}
