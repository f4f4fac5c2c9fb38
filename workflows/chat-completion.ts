import {
  ActivityCancellationType,
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { GenerateFailureDetails } from '../activities/inference/generate.js';
import type { Usage } from '../protocol/chat-response.js';
import type { Admission, AdmitResult, CompletionJobInput, CompletionJobOutput, CompletionStatus, GenerateResult, GenerationAborted } from '../protocol/completion-job.js';
import type { GenieErrorBody } from '../protocol/errors.js';
import { requiredCapabilities } from '../protocol/capabilities.js';
import { callerHeldNodeCall, nodeCall, shortStep } from './activity-options.js';
import { admitUpdate, jobQuery } from './definitions.js';
import { errorBodyOf, JobState } from './job-state.js';
import { deliverOnSchedule } from './webhook-delivery.js';

const FAILOVER_ATTEMPTS = 3;
/** Workers that may stop under one async job (rolling deploys) before it fails. */
const MAX_WORKERS_LOST = 10;
const GENIE_ERROR = 'GenieError';
const GENERATION_ABORTED = 'GenerationAborted';
const WORKER_SHUTDOWN = 'WorkerShutdown';
const ZERO_USAGE: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

const { admit, selectNode, settleUsage, projectJob } = proxyLocalActivities<Activities>(shortStep);

/**
 * One completion: admit → select a node → generate (failing over to another node while no token has
 * been sent) → settle usage → (async) deliver the webhook. Deterministic; every side effect is an activity.
 */
export async function chatCompletion(input: CompletionJobInput): Promise<CompletionJobOutput> {
  const job = new JobState(input);
  setHandler(jobQuery, () => ({ orgId: input.principal.orgId, job: job.view }));
  // Only async jobs are polled after the fact; sync and stream callers hold their answer already.
  const project = () =>
    input.mode === 'async'
      ? projectJob.executeWithOptions({ ...shortStep, summary: `project job (${job.view.status}) to Postgres` }, [{ workflowId: input.workflowId, orgId: input.principal.orgId, requestHash: input.requestHash, job: job.view }])
      : Promise.resolve();

  let admission: { ok: true } | { ok: false; error: ApplicationFailure } | null = null;
  setHandler(admitUpdate, async (): Promise<Admission> => {
    await condition(() => admission !== null);
    if (!admission!.ok) throw admission!.error;
    return { requestHash: input.requestHash, budget: admitted.budget };
  });

  let admitted: AdmitResult;
  try {
    admitted = await admit.executeWithOptions({ ...shortStep, summary: `admit: pick a node for ${input.request.model}, reserve the budget` }, [
      { workflowId: input.workflowId, principal: input.principal, request: input.request, mode: input.mode },
    ]);
    admission = { ok: true };
  } catch (e) {
    // Refused: the update carries the refusal to the caller; the workflow ends failed, visible to ops.
    const body = errorBodyOf(e);
    admission = { ok: false, error: ApplicationFailure.nonRetryable(body.message, GENIE_ERROR, body) };
    job.fail('failed', body);
    log.info('refused at admission', { status: body.status, code: body.code, message: body.message });
    setCurrentDetails(`**refused** ${body.status} ${body.code ?? ''}: ${body.message}`);
    await condition(allHandlersFinished);
    throw admission.error;
  }
  const budget = admitted.budget;
  // The projection only has to exist for when the workflow cannot answer (a worker outage, or after
  // retention): its first row is written beside the first node call, its last one at the end.
  // A cancelled workflow may cancel this write; the final one (guarded against older states) still lands.
  const queuedProjection = project().catch(() => undefined);

  const generateOptions = {
    ...(input.callerHeld ? callerHeldNodeCall : nodeCall),
    taskQueue: input.generateQueue,
    // On cancel, wait for `generate` to report what it produced instead of abandoning it: that usage
    // must be settled, and the node request must be seen to stop.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
  const { generate } = proxyActivities<Activities>(generateOptions);

  let result: GenerateResult | null = null;
  let usage: Usage = ZERO_USAGE;
  let nodeName: string | null = null;
  let outcome: CompletionStatus = 'failed';
  let failure: unknown = null;
  try {
    const excluded: string[] = [];
    const suspect: string[] = [];
    let lastFailure: ActivityFailure | null = null;
    // Two budgets: nodes that failed (each excluded afterwards) and workers lost under an async job (a
    // deploy or a crash: not the node's fault, so the same node may be chosen again).
    let workersLost = 0;
    let lostLast = false;
    for (let attempt = 1; !result; attempt++) {
      let selected = admitted;
      if (attempt > 1) {
        try {
          const again = { model: input.request.model, exclude: excluded, capabilities: requiredCapabilities(input.request), suspect };
          const summary = lostLast ? `again: the worker running attempt ${attempt - 1} stopped` : `failover: another node than ${excluded.join(', ')}`;
          selected = { ...admitted, ...(await selectNode.executeWithOptions({ ...shortStep, summary }, [again])) };
        } catch (e) {
          // Every serving node already failed this completion: the caller sees the last node's error.
          if (lastFailure) throw rethrowable(lastFailure);
          throw e;
        }
      }
      nodeName = selected.node.name;
      job.setStatus('in_progress', nodeName);
      try {
        result = await generate.executeWithOptions({ ...generateOptions, summary: `${input.mode} on ${nodeName}, attempt ${attempt}` }, [
          { workflowId: input.workflowId, mode: input.mode, created: input.created, node: selected.node, request: input.request, includeUsage: input.includeUsage, attempt, budget, keepStream: input.requestHash !== null },
        ]);
        usage = result.usage;
      } catch (e) {
        const abortedUsage = abortedWith(e);
        if (abortedUsage) {
          usage = abortedUsage;
          throw new CancelledFailure('generation aborted: the caller left or the completion was cancelled');
        }
        if (!(e instanceof ActivityFailure)) throw e;
        log.warn('node attempt failed', { node: nodeName, attempt, error: e.cause?.message ?? e.message });
        const shutdown = workerShutdownOf(e);
        if (shutdown && input.callerHeld) {
          // The API holding the caller shut down past its grace period: the caller got an inline 503.
          usage = shutdown.usage;
          throw ApplicationFailure.nonRetryable(shutdown.body.message, GENIE_ERROR, shutdown.body);
        }
        lostLast = lostWorker(e, input);
        if (lostLast) {
          lastFailure = e; // the process running it stopped or died; the node itself is not suspect
          if (++workersLost > MAX_WORKERS_LOST) throw rethrowable(e);
          continue;
        }
        if (!canFailover(e)) throw e;
        excluded.push(nodeName);
        if (((e.cause as ApplicationFailure).details?.[1] as GenerateFailureDetails | undefined)?.suspect) suspect.push(nodeName);
        lastFailure = e;
        if (excluded.length >= FAILOVER_ATTEMPTS) throw rethrowable(e);
      }
    }
    outcome = 'completed';
  } catch (e) {
    outcome = isCancellation(e) ? 'cancelled' : 'failed';
    failure = e;
  }

  // Settlement and the job's final state must be recorded even when the workflow is being cancelled.
  await CancellationScope.nonCancellable(async () => {
    if (outcome === 'completed') job.complete(result!.completion);
    else job.fail(outcome === 'cancelled' ? 'cancelled' : 'failed', outcome === 'cancelled' ? cancelledBody() : errorBodyOf(failure));
    await queuedProjection;
    await Promise.all([
      settleUsage.executeWithOptions({ ...shortStep, summary: `settle ${outcome}: ${usage.prompt_tokens} in / ${usage.completion_tokens} out` }, [
        { workflowId: input.workflowId, mode: input.mode, principal: input.principal, model: input.request.model, node: nodeName, usage, outcome },
      ]),
      project(),
    ]);
  });

  log.info(`completion ${outcome}`, { node: nodeName, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
  // What ops read at the top of the workflow in the Temporal UI, without opening a payload.
  setCurrentDetails(
    [`**${outcome}**${nodeName ? ` on \`${nodeName}\`` : ''}`, `tokens: ${usage.prompt_tokens} in / ${usage.completion_tokens} out`]
      .concat(outcome === 'completed' ? [] : [`error: ${errorBodyOf(failure).status} ${errorBodyOf(failure).message}`])
      .join('  \n'),
  );

  // A cancelled job gets no webhook: its owner asked for it to stop.
  if (input.webhook && outcome !== 'cancelled') {
    await deliverOnSchedule({
      workflowId: input.workflowId,
      url: input.webhook.url,
      payload: outcome === 'completed' ? result!.completion : job.view,
      scheduleMs: input.webhookScheduleMs,
      job,
      onAttempt: project,
    });
  }
  await condition(allHandlersFinished);
  if (failure) throw failure;
  return { status: 'completed', completion: result!.completion, usage, node: nodeName };
}

function cancelledBody(): GenieErrorBody {
  return { status: 499, message: 'the completion was cancelled', type: 'invalid_request_error', code: 'cancelled', param: null };
}

function canFailover(e: ActivityFailure): boolean {
  const cause = e.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== GENIE_ERROR) return false;
  return (cause.details?.[1] as GenerateFailureDetails | undefined)?.failover === true;
}

/**
 * A worker that dies mid-`generate` shows up as a heartbeat/start-to-close timeout. For an async job
 * nothing reached a caller yet, so another attempt is safe; a caller-held stream died with its process.
 */
function lostWorker(e: ActivityFailure, input: CompletionJobInput): boolean {
  if (input.callerHeld) return false;
  return e.cause instanceof TimeoutFailure || (e.cause instanceof ApplicationFailure && e.cause.type === WORKER_SHUTDOWN);
}

/** A `generate` interrupted by its process shutting down: what it produced and what the caller was told. */
function workerShutdownOf(e: ActivityFailure): { usage: Usage; body: GenieErrorBody } | null {
  const cause = e.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== WORKER_SHUTDOWN) return null;
  const details = cause.details?.[0] as { usage: Usage; body: GenieErrorBody } | undefined;
  return details ?? { usage: ZERO_USAGE, body: { status: 503, message: cause.message, type: 'service_unavailable', code: 'service_unavailable', param: null } };
}

function abortedWith(e: unknown): Usage | null {
  if (!(e instanceof ActivityFailure)) return null;
  if (e.cause instanceof CancelledFailure) return ZERO_USAGE; // cancelled before it started
  if (e.cause instanceof ApplicationFailure && e.cause.type === GENERATION_ABORTED) {
    return (e.cause.details?.[0] as GenerationAborted).usage;
  }
  return null;
}

/** Surfaces a node's classified error as the workflow's own failure, keeping its caller-facing body. */
function rethrowable(e: ActivityFailure): ApplicationFailure {
  const body = errorBodyOf(e);
  return ApplicationFailure.nonRetryable(body.message, GENIE_ERROR, body);
}
