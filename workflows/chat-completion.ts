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
  type LocalActivityOptions,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { Usage } from '../protocol/chat-response.js';
import type { Admission, AdmitInput, AdmitResult, CompletionJobInput, CompletionJobOutput, CompletionStatus, GenerateInput, GenerateResult, ServeHereResult } from '../protocol/completion-job.js';
import { errorBodyOf, failures, fromFailureValue, readFailure, retryAtOf } from '../protocol/failures.js';
import { requiredCapabilities } from '../protocol/capabilities.js';
import { fittedRequest, refitMaxTokens } from '../protocol/max-tokens.js';
import type { NodeRef } from '../activities/nodes/node-list.js';
import type { SelectNodeInput } from '../activities/nodes/select-node.js';
import { callerHeldHere, callerHeldNodeCall, nodeCall, shortStep, untilPostgresAnswers } from './activity-options.js';
import { admitUpdate, jobQuery } from './definitions.js';
import { JobState } from './job-state.js';
import { code } from './markdown.js';
import { deliverOnSchedule } from './webhook-delivery.js';

const FAILOVER_ATTEMPTS = 3;
/** The patch id of async jobs whose projection is written by their admission, settlement and webhook steps. */
export const ASYNC_STEPS_FOLDED = 'async-steps-folded';
/** Workers that may stop under one async job (rolling deploys) before it fails. */
const MAX_WORKERS_LOST = 10;
const ZERO_USAGE: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

const { admit, selectNode, settleUsage, projectJob, generateHere, serveHere } = proxyLocalActivities<Activities>(shortStep);

/**
 * One completion: admit → select a node → generate (failing over to another node while no token has
 * been sent) → settle usage → (async) deliver the webhook. Deterministic; every side effect is an activity.
 *
 * Sync and stream: the API holding the caller starts this workflow eagerly, so its first workflow task
 * runs there and `serveHere` (one local activity: admission, then the node call) reaches the caller's
 * socket in memory — the whole completion is one workflow task and one step, which settles before it
 * answers. Wherever the task runs without the caller (a start that was not eager, a task retried
 * elsewhere), `serveHere` says so, admission runs as a step of its own, and the regular `generate`
 * activity on that API's own queue does the work instead. A failover attempt is `generateHere` (the
 * same node call as a local activity), or that `generate`.
 */
export async function chatCompletion(input: CompletionJobInput): Promise<CompletionJobOutput> {
  const job = new JobState(input);
  // The budget ledger and usage belong to this run: the same workflow id started again is gated afresh.
  const runId = workflowInfo().runId;
  setHandler(jobQuery, () => ({ orgId: input.principal.orgId, job: job.view }));
  // Only async jobs are polled after the fact; sync and stream callers hold their answer already.
  // Every projection after the node call waits for Postgres however long it is away (a job must not
  // read stale once its workflow is gone); the first one, beside the node call, is best-effort.
  const projection = () => ({ workflowId: input.workflowId, orgId: input.principal.orgId, requestHash: input.requestHash, job: job.view });
  // An async job writes its projection inside admission, settlement and each webhook attempt. Jobs
  // started before that (their histories hold projectJob steps of their own) replay as they ran; jobs
  // started with the patch recorded it; new ones say so in their input, which costs no history event.
  // Sync and stream completions did not change and record nothing.
  const folded = input.mode !== 'async' || input.stepsFolded === true || patched(ASYNC_STEPS_FOLDED);
  const project = (options: LocalActivityOptions = untilPostgresAnswers) =>
    input.mode === 'async' ? projectJob.executeWithOptions({ ...options, summary: `project job (${job.view.status}) to Postgres` }, [projection()]) : Promise.resolve();

  let admission: { ok: true } | { ok: false; error: ApplicationFailure } | null = null;
  setHandler(admitUpdate, async (): Promise<Admission> => {
    await condition(() => admission !== null);
    if (!admission!.ok) throw admission!.error;
    return { requestHash: input.requestHash, budget: admitted.budget };
  });

  let admitted: AdmitResult;
  const admitInput: AdmitInput = { workflowId: input.workflowId, runId, principal: input.principal, request: input.request, mode: input.mode, defaultMaxTokens: input.defaultMaxTokens };
  const firstAttempt = { workflowId: input.workflowId, runId, mode: input.mode, principal: input.principal, created: input.created, includeUsage: input.includeUsage, attempt: 1, keepStream: input.requestHash !== null };
  // Caller-held: admission and the first attempt in one step (`serveHere`) in the API holding the caller,
  // where an eager start runs this task; elsewhere it says the caller is not here, having done nothing,
  // and the steps below run as they always did.
  // Cancellable, unlike `admit`: the cancel stops its generation, and it still reports what it admitted.
  let servedHere: ServeHereResult = { admitted: null };
  try {
    if (input.serveHere) {
      servedHere = await serveHere.executeWithOptions(
        { ...callerHeldHere, summary: `admit: pick a node for ${code(input.request.model)}, reserve the budget; then ${input.mode} on that node, in the API holding the caller` },
        [{ admit: admitInput, generate: firstAttempt }],
      );
    }
    // Not cancellable: a cancel arriving mid-admission (a caller who left at once) must not abandon a
    // reservation that may already be booked. The cancel then stops `generate` instead, and the
    // settlement below releases what was reserved.
    admitted =
      servedHere.admitted ??
      (await CancellationScope.nonCancellable(() =>
        admit.executeWithOptions({ ...shortStep, summary: `admit: pick a node for ${code(input.request.model)}, reserve the budget${input.mode === 'async' ? '; project job (queued)' : ''}` }, [
          { ...admitInput, ...(input.mode === 'async' && folded ? { projection: projection() } : {}) },
        ]),
      ));
    admission = { ok: true };
  } catch (e) {
    const body = errorBodyOf(e);
    if (isCancellation(e)) {
      // Cancelled before `serveHere` ran (it reports what it admitted once it has run): nothing to settle.
      admission = { ok: false, error: failures.genie(body) };
      job.fail('cancelled', body);
      await condition(allHandlersFinished);
      throw e;
    }
    // Refused: the update carries the refusal to the caller; the workflow ends failed, visible to ops.
    // A cap refusal that its window's reset would lift says when (a batch line waits for it).
    admission = { ok: false, error: failures.genie(body, null, { retryAt: retryAtOf(e) }) };
    job.fail('failed', body);
    log.info('refused at admission', { status: body.status, code: body.code, message: body.message });
    // The message may name the caller's model: a code span, as every caller-influenced text here.
    setCurrentDetails(`**refused** ${body.status} ${body.code ?? ''}: ${code(body.message)}`);
    await condition(allHandlersFinished);
    throw admission.error;
  }
  const budget = admitted.budget;
  const callerNotHere = servedHere.admitted === null && servedHere.notHere === true;
  const request = fittedRequest(input.request, admitted.maxTokens);
  // An async job's projection only has to exist for when the workflow cannot answer (a worker outage,
  // or after retention): admission wrote its first row (queued), settlement writes its last.
  const queuedProjection = folded ? Promise.resolve() : project(shortStep).catch(() => undefined);

  const generateOptions = {
    ...(input.callerHeld ? callerHeldNodeCall : nodeCall),
    taskQueue: input.generateQueue,
    // On cancel, wait for `generate` to report what it produced instead of abandoning it: that usage
    // must be settled, and the node request must be seen to stop.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
  const { generate } = proxyActivities<Activities>(generateOptions);

  // An async job's next attempt that finds no healthy node, while a node that may come back (down after
  // a probe flap, restarting, draining) serves its model, waits for one on durable timers — up to
  // `nodeWaitMs` over the whole job — instead of failing a job its 202 promised. Caller-held completions
  // (their callers are waiting) and jobs started before the field fail at once, as they ran.
  let waitedForNodesMs = 0;
  const selectWaitingForNodes = async (again: SelectNodeInput, summary: string) => {
    for (let pause = 1000; ; pause = Math.min(2 * pause, 30_000)) {
      try {
        const waited = waitedForNodesMs > 0 ? ` (after ${waitedForNodesMs / 1000} s waiting for a healthy node)` : '';
        return await selectNode.executeWithOptions({ ...shortStep, summary: summary + waited }, [again]);
      } catch (e) {
        const f = readFailure(e);
        const room = (input.nodeWaitMs ?? 0) - waitedForNodesMs;
        if (f.kind !== 'genie' || !f.nodesMayReturn || room <= 0) throw e;
        const wait = Math.min(pause, room);
        log.info('no healthy node; waiting for one', { model: input.request.model, waitMs: wait, waitedMs: waitedForNodesMs });
        setCurrentDetails(`**waiting** for a healthy node serving ${code(input.request.model)}: ${waitedForNodesMs / 1000} s so far, up to ${input.nodeWaitMs! / 1000} s`);
        await sleep(wait);
        waitedForNodesMs += wait;
        // Marked suspect once: a probe may have cleared it since.
        again = { ...again, suspect: [] };
      }
    }
  };

  let result: GenerateResult | null = null;
  let usage: Usage = ZERO_USAGE;
  let nodeName: string | null = null;
  let outcome: CompletionStatus = 'failed';
  let failure: unknown = null;
  try {
    const excluded: string[] = [];
    const suspect: string[] = [];
    let lastFailure: unknown = null;
    // Two budgets: nodes that failed (each excluded afterwards) and workers lost under an async job (a
    // deploy or a crash: not the node's fault, so the same node may be chosen again).
    let workersLost = 0;
    let lostLast = false;
    // Only nodes whose context holds the caller's own max_tokens may take over (as at admission).
    const callerMaxTokens = input.defaultMaxTokens ? undefined : (input.request.max_tokens ?? undefined);
    for (let attempt = 1; !result; attempt++) {
      let selected = admitted;
      if (attempt > 1) {
        try {
          const again = { model: input.request.model, exclude: excluded, capabilities: requiredCapabilities(input.request), suspect, ...(callerMaxTokens !== undefined ? { maxTokens: callerMaxTokens } : {}) };
          const summary = lostLast ? `again: the worker running attempt ${attempt - 1} stopped` : `failover: another node than ${excluded.map(code).join(', ')}`;
          selected = { ...admitted, ...(await selectWaitingForNodes(again, summary)) };
        } catch (e) {
          if (isCancellation(e)) throw e; // cancelled while it waited for a node
          // No node can take it (every serving node already failed this completion, or none came back in
          // time): the caller sees the last node's error.
          if (lastFailure) throw rethrowable(lastFailure);
          throw e;
        }
      }
      nodeName = selected.node.name;
      job.setStatus('in_progress', nodeName);
      const args: [GenerateInput] = [
        { ...firstAttempt, node: selected.node, request: attempt > 1 ? refitted(input, admitted, selected.node) : request, attempt, budget, price: admitted.price, reservedMicroUsd: admitted.reservedMicroUsd },
      ];
      // An async job's attempt settles its usage too (`generate`), once it has it.
      const summary = `${input.mode} on ${code(nodeName)}, attempt ${attempt}${input.mode === 'async' ? '; settle its usage' : ''}`;
      // The first attempt `serveHere` made: its failure goes through the failover below as any attempt's.
      // Where it found no caller, `generateHere` would find none either (the same task, the same process).
      const here = attempt === 1 && servedHere.admitted ? servedHere : null;
      const askHere = input.callerHeld && !here && !(attempt === 1 && callerNotHere);
      try {
        if (here?.failure) throw fromFailureValue(here.failure);
        result =
          here?.generated ??
          (askHere ? await generateHere.executeWithOptions({ ...callerHeldHere, summary: `${summary}, in the API holding the caller` }, args) : null) ??
          (await generate.executeWithOptions({ ...generateOptions, summary }, args));
        usage = result.usage;
      } catch (e) {
        // Regular and local activities fail alike here: whatever wraps it, the failure says what happened.
        const f = readFailure(e);
        if (f.kind === 'aborted' || f.kind === 'cancelled') {
          usage = f.kind === 'aborted' ? f.usage : ZERO_USAGE; // cancelled before it started: nothing produced
          throw new CancelledFailure('generation aborted: the caller left or the completion was cancelled');
        }
        log.warn('node attempt failed', { node: nodeName, attempt, error: messageOf(e) });
        if (f.kind === 'shutdown' && input.callerHeld) {
          // The API holding the caller shut down past its grace period: the caller got an inline 503.
          usage = f.usage;
          throw failures.genie(f.body);
        }
        // An async job whose worker stopped or died: nothing reached a caller yet, so another attempt is
        // safe, and the node is not suspect. A caller-held one died with its caller's connection.
        lostLast = !input.callerHeld && (f.kind === 'timeout' || f.kind === 'shutdown');
        if (lostLast) {
          lastFailure = e;
          if (++workersLost > MAX_WORKERS_LOST) throw rethrowable(e);
          continue;
        }
        if (f.kind !== 'genie' || !f.node?.failover) throw e;
        excluded.push(nodeName);
        if (f.node.suspect) suspect.push(nodeName);
        lastFailure = e;
        if (excluded.length >= FAILOVER_ATTEMPTS) throw rethrowable(e);
      }
    }
    outcome = 'completed';
  } catch (e) {
    outcome = isCancellation(e) ? 'cancelled' : 'failed';
    failure = e;
  }

  const webhookNow = input.mode === 'async' && input.webhook !== null && outcome === 'completed' && input.webhookScheduleMs[0] === 0;
  // What the caller, the job view and ops read of a failure (a cancelled completion's is the 499 body).
  const errorBody = outcome === 'completed' ? null : errorBodyOf(failure);
  // Settlement and the job's final state must be recorded even when the workflow is being cancelled,
  // and however long Postgres is away: neither may fail the workflow here (untilPostgresAnswers).
  const settlement = () => ({ workflowId: input.workflowId, runId, mode: input.mode, principal: input.principal, model: input.request.model, node: nodeName, usage, outcome, price: admitted.price, reservedMicroUsd: admitted.reservedMicroUsd });
  await CancellationScope.nonCancellable(async () => {
    if (outcome === 'completed') job.complete(result!.completion);
    else job.fail(outcome === 'cancelled' ? 'cancelled' : 'failed', errorBody!);
    await queuedProjection;
    // A caller-held `generate` settled before it answered; every other ending settles here, and an
    // async job's final projection is written by the same step (one local activity, not two).
    if (!folded) await Promise.all([result?.settled ? undefined : settleUsage.executeWithOptions({ ...untilPostgresAnswers, summary: `settle ${outcome}: ${usage.prompt_tokens} in / ${usage.completion_tokens} out` }, [settlement()]), project()]);
    // Settled by `generate` (a caller-held one before it answered; an async job's on the worker): an
    // async job's final projection is its own step, unless its first webhook attempt, right away,
    // writes it with its outcome.
    else if (result?.settled) await (webhookNow ? undefined : project());
    else {
      const async = input.mode === 'async';
      await settleUsage.executeWithOptions({ ...untilPostgresAnswers, summary: `settle ${outcome}: ${usage.prompt_tokens} in / ${usage.completion_tokens} out${async ? `; project job (${job.view.status})` : ''}` }, [
        { ...settlement(), ...(async ? { projection: projection() } : {}) },
      ]);
    }
  });

  log.info(`completion ${outcome}`, { node: nodeName, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
  // What ops read at the top of the workflow in the Temporal UI, without opening a payload.
  setCurrentDetails(
    [`**${outcome}**${nodeName ? ` on ${code(nodeName)}` : ''}`, `tokens: ${usage.prompt_tokens} in / ${usage.completion_tokens} out`]
      .concat(errorBody ? [`error: ${errorBody.status} ${code(errorBody.message)}`] : [])
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
      onAttempt: () => project(),
      ...(input.mode === 'async' && folded ? { projection } : {}),
    });
  }
  await condition(allHandlersFinished);
  if (failure) throw failure;
  return { status: 'completed', completion: result!.completion, usage, node: nodeName };
}

/** Surfaces a node's classified error as the workflow's own failure, keeping its caller-facing body. */
function messageOf(e: unknown): string {
  return (e instanceof ActivityFailure ? e.cause?.message : undefined) ?? (e as Error)?.message ?? String(e);
}

function rethrowable(e: unknown): ApplicationFailure {
  return failures.genie(errorBodyOf(e));
}

/**
 * The request for a failover attempt, its max_tokens fitted to that node's context (the first node's
 * fit could be too much for it: a default of 4096 sent to a node of 1024 is the engine's refusal) and
 * within the output admission reserved for. Histories from before admission recorded its fit keep the
 * first node's request.
 */
function refitted(input: CompletionJobInput, admitted: AdmitResult, node: NodeRef): CompletionJobInput['request'] {
  if (!admitted.fit) return fittedRequest(input.request, admitted.maxTokens);
  const fit = refitMaxTokens(
    { maxTokens: input.request.max_tokens ?? null, defaulted: input.defaultMaxTokens, contextLength: node.model?.contextLength, engineFitsMissing: node.engine === 'vllm', promptBound: admitted.fit.promptBound },
    admitted.fit.outputBound,
  );
  return fittedRequest(input.request, fit.send);
}
