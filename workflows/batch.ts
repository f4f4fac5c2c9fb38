import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  proxyLocalActivities,
  patched,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { BatchEnding } from '../activities/batches/batch-state.js';
import type { Batch, BatchCursor, BatchRunInput } from '../protocol/batch.js';
import { lineJobId } from '../protocol/batch-ids.js';
import type { WebhookState } from '../protocol/job.js';
import { untilPostgresAnswers } from './activity-options.js';
import { batchLine } from './batch-line.js';
import { batchCancelledSignal, cancelBatchUpdate, searchAttributes } from './definitions.js';
import { deliverOnSchedule } from './webhook-delivery.js';

const { setBatchStatus, batchWindow, recordBatchWebhook, expireBatchLines } = proxyLocalActivities<Activities>(untilPostgresAnswers);
/** The patch id of batch runs with the completion window as a durable timer. */
export const BATCH_EXPIRY_TIMER = 'batch-expiry-timer';
/** The patch id of batch runs whose cancel signals their running lines (a line deferred until a cap resets stops waiting). */
export const BATCH_CANCEL_WAKES_LINES = 'batch-cancel-wakes-lines';

/**
 * A batch: validate its input file, run every line as a `batchLine` child workflow (each one the same
 * `chatCompletion` an async job is), at most `window` at once and in line order, then write the output
 * and error files and deliver the webhook.
 *
 * History stays bounded: a run starts at most `linesPerRun` lines (fewer if Temporal suggests it), waits
 * for them, and continues as new with its cursor; lines' requests and answers live in Postgres, so each
 * child costs a handful of small events. Every line before the cursor has finished, so a new run (or a
 * replay after a worker died) never starts a line twice: child workflow ids are derived from the line.
 *
 * A line refused by a budget cap (402) waits for the cap's reset when that comes before the deadline and
 * would let it through (`batchLine`): the batch's lines then wait too, so the batch pauses until the
 * reset. Otherwise the line fails with the seed's 402 body in the error file and the batch goes on.
 *
 * The completion window is a durable timer on `expiresAtMs` (the API's clock at creation plus the
 * window), set again by every run for what is left of it, so continue-as-new carries the deadline. When
 * it fires no line starts any more, every line not recorded yet is marked expired in Postgres, and then
 * the running lines are cancelled (they settle what their node produced; their own record, coming after
 * the expiry's, changes nothing), so the batch ends `expired` at the deadline, not when its slowest line would.
 */
export async function batchRun(input: BatchRunInput): Promise<Batch> {
  const { batchId, principal } = input;
  const cursor: BatchCursor = input.cursor ?? { phase: 'validating', nextLine: 0, total: 0, cancelRequested: false, runs: 0 };
  let cancelRequested = cursor.cancelRequested;
  // The running lines' workflow ids (how many run is its size): a cancel wakes those waiting for a cap's reset.
  const running = new Set<string>();
  // Set first, before any await: the activation that runs this handler starts no further line.
  setHandler(cancelBatchUpdate, async () => {
    cancelRequested = true;
    // Batches cancelled before lines could defer replay without these signals.
    if (patched(BATCH_CANCEL_WAKES_LINES))
      for (const id of running) void getExternalWorkflowHandle(id).signal(batchCancelledSignal).catch(() => undefined); // already finished: nothing to wake
    return setBatchStatus.executeWithOptions({ ...untilPostgresAnswers, summary: 'cancel requested: no further line starts' }, [{ batchId, status: 'cancelling' }]);
  });
  const fileStep = {
    taskQueue: input.activityQueue,
    // A 200 MB file is read, parsed and stored (or written) in one attempt, heartbeating as it goes.
    startToCloseTimeout: '30m',
    heartbeatTimeout: '60s',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  } as const;
  const { validateBatch, finalizeBatch } = proxyActivities<Activities>(fileStep);

  let expired = false;
  // Runs that began before the expiry timer existed (their histories hold none) replay as they ran:
  // the deadline checked before each line start, running lines left to finish.
  const timed = patched(BATCH_EXPIRY_TIMER);
  // Workflow time is deterministic (the task's time), so a replay computes the same timer.
  const leftMs = input.expiresAtMs - Date.now();
  if (timed && leftMs <= 0) expired = true;
  else if (timed)
    void CancellationScope.cancellable(() => sleep(leftMs))
      .then(() => (expired = true))
      // Cancelled only with the whole workflow (from the Temporal UI): handled below as a cancel.
      .catch(() => undefined);
  // The running lines, cancelled together when the window passes (a cancel lets them finish).
  const lineScope = new CancellationScope();
  const details = () =>
    setCurrentDetails(`**${cancelRequested ? 'cancelling' : cursor.phase}** · ${cursor.nextLine - running.size} of ${cursor.total} lines finished · run ${cursor.runs + 1}`);

  try {
    if (cursor.phase === 'validating') {
      const v = await validateBatch.executeWithOptions({ ...fileStep, summary: 'validate the input file' }, [{ batchId }]);
      if (v.errors.length) return await end(await setBatchStatus({ batchId, status: 'failed', errors: v.errors }));
      cursor.phase = 'in_progress';
      cursor.total = v.total;
      await setBatchStatus({ batchId, status: 'in_progress', total: v.total });
    }
    if (expired) return await finish();
    const { window, orgBatches } = await batchWindow({ orgId: principal.orgId, concurrency: input.concurrency, orgConcurrency: input.orgConcurrency });
    log.info('batch run', { run: cursor.runs + 1, from: cursor.nextLine, total: cursor.total, window, orgBatches });
    let startedThisRun = 0;
    while (cursor.nextLine < cursor.total && !cancelRequested && !expired && startedThisRun < input.linesPerRun && !workflowInfo().continueAsNewSuggested) {
      await condition(() => running.size < window || cancelRequested || expired);
      if (cancelRequested || expired) break;
      if (!timed && Date.now() >= input.expiresAtMs) {
        expired = true;
        break;
      }
      const line = cursor.nextLine++;
      startedThisRun++;
      const jobId = lineJobId(batchId, line);
      const workflowId = `chatcmpl-${jobId}`;
      running.add(workflowId);
      details();
      void lineScope.run(() => executeChild(batchLine, {
        workflowId,
        args: [{ batchId, line, jobId, principal, deadlineMs: input.expiresAtMs }],
        staticSummary: `batch line ${line + 1} of ${cursor.total} · ${batchId}`,
        // A batch workflow terminated by an operator asks its running lines to stop (they settle what
        // they produced) rather than killing them with their reservations held.
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: searchAttributes.orgId, value: principal.orgId },
          { key: searchAttributes.applicationId, value: principal.applicationId },
          { key: searchAttributes.mode, value: 'async' },
          { key: searchAttributes.status, value: 'queued' },
          { key: searchAttributes.batchId, value: batchId },
        ],
      }))
        // A line workflow that ended without recording (terminated by an operator): its line stays unrun.
        .catch((e) => log.warn('batch line workflow failed', { line, error: (e as Error).message }))
        .finally(() => running.delete(workflowId));
    }
    await condition(() => running.size === 0 || (timed && expired));
    details();
    if (cursor.nextLine < cursor.total && !cancelRequested && !expired) {
      await condition(allHandlersFinished);
      if (!cancelRequested) return await continueAsNew<typeof batchRun>({ ...input, cursor: { ...cursor, cancelRequested, runs: cursor.runs + 1 } });
    }
  } catch (e) {
    if (!isCancellation(e)) throw e;
    // Cancelled from the Temporal UI: the same as POST …/cancel. Running lines were asked to stop too.
    cancelRequested = true;
  }
  return await finish();

  /** Waits for the running lines (cancelled first if the window passed), then writes the files and ends the batch. */
  async function finish(): Promise<Batch> {
    return CancellationScope.nonCancellable(async () => {
      // A cancel requested before the window passed wins: its running lines were promised to finish. A
      // window that passes once every line has finished changes nothing: the batch completed.
      const expiring = timed && expired && !cancelRequested && (running.size > 0 || cursor.nextLine < cursor.total);
      if (expiring) {
        // Marked before the cancel: a cancelled line's own record (a 499) then changes nothing.
        await expireBatchLines.executeWithOptions({ ...untilPostgresAnswers, summary: 'completion window passed: unfinished lines expired' }, [{ batchId }]);
        lineScope.cancel();
      }
      await condition(() => running.size === 0);
      const ending: BatchEnding = cancelRequested ? 'cancelled' : expiring || (!timed && expired) ? 'expired' : 'completed';
      return end(await finalizeBatch.executeWithOptions({ ...fileStep, summary: `write the output and error files (${ending})` }, [{ batchId, ending }]));
    });
  }

  /** The final batch object goes to the webhook, on the async jobs' schedule; each attempt is kept on the batch. */
  async function end(batch: Batch): Promise<Batch> {
    setCurrentDetails(`**${batch.status}** · ${batch.request_counts.completed} completed, ${batch.request_counts.failed} failed of ${batch.request_counts.total}`);
    if (input.webhook) {
      let state = { url: input.webhook.url, status: 'pending' as WebhookState['status'], attempts: 0, last_status_code: null as number | null, last_error: null as string | null, delivered_at: null as string | null };
      await CancellationScope.nonCancellable(() =>
        deliverOnSchedule({
          workflowId: batchId,
          url: input.webhook!.url,
          payload: batch,
          scheduleMs: input.webhookScheduleMs,
          job: { recordWebhook: (update: Partial<WebhookState>) => (state = { ...state, ...update }) },
          onAttempt: () => recordBatchWebhook({ batchId, webhook: state }),
        }),
      );
    }
    await condition(allHandlersFinished);
    return batch;
  }
}
