import type { Response } from 'express';
import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { WebhookUrlGuard } from '../../activities/webhooks/url-guard.js';
import type { CompletionMode } from '../../protocol/chat-request.js';
import { streamRecordSchema, type Admission, type CompletionJobInput, type CompletionJobOutput } from '../../protocol/completion-job.js';
import type { AsyncAccepted } from '../../protocol/job.js';
import { GenieError, type GenieErrorBody } from '../../protocol/errors.js';
import { SHUTTING_DOWN, type Delivery } from '../../activities/inference/held-caller.js';
import { SHUTTING_DOWN as SHUTTING_DOWN_BODY } from '../../protocol/failures.js';
import { admitUpdate } from '../../workflows/definitions.js';
import type { chatCompletion } from '../../workflows/chat-completion.js';
import type { GenieMetrics } from '../../activities/metrics.js';
import { toGenieError } from '../middleware/error-mapper.js';
import type { PersonaCache } from '../personas.js';
import type { AdmissionOutcome, CallerRegistry, Hold } from './held-callers.js';
import { SseSink } from './sse-sink.js';
import { completionInput, type CompletionCall } from '../../protocol/completion-input.js';
import { startOptions, type StartSettings } from './start-options.js';
import { claimIdempotentJobId } from '../../db/idempotency-keys.js';
import { newId } from '../../db/ids.js';

export type { CompletionCall } from '../../protocol/completion-input.js';

export interface CompletionServiceDeps extends StartSettings {
  temporal: Client;
  orm: MikroORM;
  callers: CallerRegistry;
  keepAliveMs: number;
  webhookGuard: WebhookUrlGuard;
  personas: PersonaCache;
  log: Logger;
  metrics?: GenieMetrics;
  /** How long an eagerly started async request waits for `admit` here before asking the workflow instead. */
  admissionHandbackMs?: number;
  /** How long an Idempotency-Key names its job (then the same key starts a new one). */
  idempotencyTtlMs: number;
  /** Marks interactive traffic for batch lines to yield to (db/interactive-activity.ts). */
  interactive?: { touch(): void };
}

type Handle = WorkflowHandle<typeof chatCompletion>;

/** Nobody is left to answer: no workflow is started for them (the access log counts it as 499). */
const callerLeft = () => new GenieError({ ...GenieError.internal('the caller left before its completion started').body, status: 499 });
/** Why a hold was over before its completion started: the caller left, or this process is past its grace period. */
const heldNoLonger = (hold: Hold) => (hold.signal.reason === SHUTTING_DOWN ? new GenieError(SHUTTING_DOWN_BODY) : callerLeft());
const keyReused = GenieError.idempotencyKeyReused;
const keyInUse = GenieError.idempotencyKeyInUse;
/**
 * How long a caller-held completion runs before its API asks for the workflow's outcome regardless: the
 * safety net for an ending this process does not see. Most completions are answered well before.
 */
const OUTCOME_WAIT_AFTER_MS = 10_000;

/**
 * The API-process side of a completion: starts the `chatCompletion` workflow (eagerly: its first task
 * runs in this process) and holds the caller where the workflow's `generate` finds it — the sync body
 * and the stream's chunks come from the node straight to the socket, never through Temporal.
 */
export function createCompletionService(deps: CompletionServiceDeps) {
  /** The job a request is: a fresh one, or the one its org's live Idempotency-Key names. */
  async function jobIdFor(orgId: string, key: string | undefined): Promise<string> {
    return key === undefined ? newId() : claimIdempotentJobId(deps.orm.em.fork(), orgId, key, deps.idempotencyTtlMs);
  }

  async function inputFor(call: CompletionCall, mode: CompletionMode): Promise<CompletionJobInput> {
    // Persona aliases resolve here, so the workflow, the node and the response all see the model id.
    return completionInput(call, mode, await deps.personas.resolve(call.request.model), deps);
  }

  /** An existing keyed workflow: the same body finds it, a different body is a 409. */
  async function existing(input: CompletionJobInput): Promise<{ handle: Handle; startTime: Date }> {
    const handle = deps.temporal.workflow.getHandle<typeof chatCompletion>(input.workflowId);
    const desc = await handle.describe();
    if (desc.memo?.requestHash !== input.requestHash) throw keyReused();
    return { handle, startTime: desc.startTime };
  }

  async function start(input: CompletionJobInput): Promise<{ handle: Handle; fresh: true; eager: boolean } | { handle: Handle; fresh: false; startTime: Date }> {
    try {
      const handle = await deps.temporal.workflow.start<typeof chatCompletion>('chatCompletion', startOptions(input, deps));
      const eager = handle.eagerlyStarted;
      if (deps.eagerStart) deps.metrics?.eagerStarts.inc({ mode: input.mode, eager: String(eager) });
      return { handle, fresh: true, eager };
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError && input.requestHash) return { ...(await existing(input)), fresh: false };
      throw e;
    }
  }

  async function replayStream(handle: Handle, sink: SseSink, includeUsage: boolean, signal: AbortSignal): Promise<void> {
    if ((await handle.describe()).status.name === 'RUNNING') throw keyInUse();
    const rows = await deps.orm.em.fork().getConnection().execute<Array<{ body: unknown }>>('select body from stream_results where workflow_id = ?', [handle.workflowId]);
    if (!rows[0]) {
      await handle.result(); // a stream that failed: its error, as a plain JSON error
      throw keyInUse();
    }
    const record = streamRecordSchema.parse(rows[0].body);
    sink.forgetFirstToken();
    sink.open(null);
    // A slow reader takes the replay at its own pace (back-pressure), as it would the live stream.
    for (const delta of record.deltas) if (!sink.writeDelta(delta, null)) await sink.drained(signal);
    if (record.finishReason) sink.writeDelta({}, record.finishReason);
    if (includeUsage) sink.writeUsage(record.usage);
    sink.end();
  }

  /**
   * A caller that leaves before its answer stops its node request at once (the generation runs in this
   * process and watches the hold's signal) and cancels the workflow, which settles what was produced.
   */
  function cancelOnDisconnect(res: Response, isAnswered: () => boolean, hold: Hold, handle: () => WorkflowHandle | null, onLeave?: () => void) {
    const leave = () => {
      hold.leave();
      onLeave?.();
    };
    const onClose = () => {
      if (isAnswered()) return;
      const started = handle();
      if (!started) return leave(); // nothing started yet: the start sees the hold aborted
      // The cancel request first, then the in-process stop: the generation ends at once either way,
      // and the workflow task it ends in then meets the request, so the execution ends Canceled.
      void started
        .cancel()
        .catch((e) => deps.log.warn({ err: (e as Error).message }, 'cancel after disconnect failed'))
        .finally(leave);
    };
    res.on('close', onClose);
    // A caller gone before this listener existed (while the persona resolved, say) left all the same.
    if (res.closed || res.req.socket.destroyed) onClose();
    return () => res.off('close', onClose);
  }

  /**
   * The workflow's own outcome, asked of the Temporal server (a long poll: a history read and server
   * CPU per completion) only when it can matter. A completion answered here — the normal case — needs
   * none: its body or stream comes from `generate` in this process. It is asked at once when the first
   * task ran elsewhere (nothing here sees how it goes), as soon as a step here did not succeed (a
   * refusal, a failed attempt: the caller's answer is the workflow's now), and once the completion has
   * run OUTCOME_WAIT_AFTER_MS. After `dispose` (the caller was answered) it is never asked.
   */
  function outcomeOf(handle: Handle, mode: 'sync' | 'stream', eager: boolean, hold: Hold): { result: Promise<CompletionJobOutput>; dispose(): void } {
    let timer: NodeJS.Timeout | undefined;
    let answered = false;
    const wait = (reason: string): Promise<CompletionJobOutput> => {
      if (answered) return new Promise(() => undefined);
      deps.metrics?.outcomeWaits.inc({ mode, reason });
      return handle.result();
    };
    const result = eager
      ? new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('slow'), OUTCOME_WAIT_AFTER_MS);
          void hold.troubled.then(() => resolve('troubled'));
        }).then(wait)
      : wait('not_eager');
    return {
      result,
      dispose: () => {
        answered = true;
        clearTimeout(timer);
      },
    };
  }

  /** The admission of an eagerly started async job, decided in this process, or null when it ran elsewhere. */
  function admissionHere(admission: Promise<AdmissionOutcome>): Promise<AdmissionOutcome | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), deps.admissionHandbackMs ?? 3000)));
    return Promise.race([admission, late]).finally(() => clearTimeout(timer));
  }

  return {
    jobIdFor,

    /** Sync: the body comes from `generate` in memory as soon as the node answered (already settled). */
    async sync(call: CompletionCall, res: Response): Promise<Delivery> {
      deps.interactive?.touch();
      const input = await inputFor(call, 'sync');
      let answer!: { deliver(d: Delivery): void; fail(e: GenieErrorBody): void };
      const delivered = new Promise<Delivery>((resolve, reject) => (answer = { deliver: resolve, fail: (e) => reject(new GenieError(e)) }));
      delivered.catch(() => undefined); // observed by the race below; a duplicate never awaits it
      const hold = deps.callers.hold(input.workflowId, { kind: 'sync', ...answer });
      let handle: WorkflowHandle | null = null;
      let answered = false;
      const detach = cancelOnDisconnect(res, () => answered, hold, () => handle);
      try {
        if (hold.signal.aborted) throw heldNoLonger(hold);
        const started = await start(input);
        const bodyOf = (out: CompletionJobOutput): Delivery => {
          if (!out.completion) throw GenieError.internal('the completion finished without a body');
          return { body: out.completion, budget: null };
        };
        if (!started.fresh) {
          // A keyed duplicate (which must not cancel the original) answers with the original's outcome.
          deps.metrics?.outcomeWaits.inc({ mode: 'sync', reason: 'duplicate' });
          return bodyOf(await started.handle.result());
        }
        handle = started.handle;
        const outcome = outcomeOf(started.handle, 'sync', started.eager, hold);
        try {
          const finished = outcome.result.then(bodyOf);
          // The workflow's own end still matters when the delivery won the race: observe it, never leak it.
          finished.catch((e) => deps.log.debug({ completionId: input.workflowId, err: (e as Error).message }, 'workflow ended with an error'));
          return await Promise.race([delivered, finished]);
        } finally {
          outcome.dispose();
        }
      } finally {
        answered = true;
        detach();
        hold.release();
      }
    },

    /**
     * Stream: the head goes out when `generate` starts here (every refusal before that is a JSON
     * error); it writes chunks straight to the socket; a workflow failure after the head becomes the
     * inline error chunk.
     */
    async stream(call: CompletionCall, res: Response): Promise<void> {
      deps.interactive?.touch();
      const input = await inputFor(call, 'stream');
      const startedAt = (res.locals.startedAt as bigint | undefined) ?? process.hrtime.bigint();
      const sink = new SseSink(res, { id: input.workflowId, model: input.request.model, created: input.created }, deps.keepAliveMs, () =>
        deps.metrics?.timeToFirstToken.observe({ model: input.request.model }, Number(process.hrtime.bigint() - startedAt) / 1e9),
      );
      // The error mapper's way to an open stream: an error thrown after the head is written inline.
      res.locals.sseSink = sink;
      const hold = deps.callers.hold(input.workflowId, { kind: 'stream', stream: sink });
      let handle: WorkflowHandle | null = null;
      const detach = cancelOnDisconnect(res, () => sink.isDone, hold, () => handle, () => sink.abort());
      try {
        if (hold.signal.aborted) throw heldNoLonger(hold);
        const started = await start(input);
        // A keyed duplicate: a running stream cannot be joined (its tokens go to one socket); a finished
        // one is replayed from what it sent.
        if (!started.fresh) return await replayStream(started.handle, sink, input.includeUsage, hold.signal);
        handle = started.handle;
        const outcome = outcomeOf(started.handle, 'stream', started.eager, hold);
        outcome.result.then(
          () => sink.fail(GenieError.internal('the stream ended without its final chunk').body),
          (e) => sink.fail(toGenieError(e).body),
        );
        try {
          await sink.opened;
          await sink.finished;
        } finally {
          outcome.dispose();
        }
      } finally {
        detach();
        hold.release();
      }
    },

    /**
     * Async: answers once the workflow admitted the job, so a refusal is a synchronous error (no job to
     * poll) and a 202 never waits for inference. Started eagerly, `admit` runs in this process and hands
     * its outcome straight back; otherwise the admit update asks the workflow.
     */
    async async(call: CompletionCall): Promise<{ accepted: AsyncAccepted; budget: Admission['budget'] }> {
      if (call.request.webhook) await deps.webhookGuard.assertAllowed(call.request.webhook.url);
      const input = await inputFor(call, 'async');
      if (call.request.webhook) {
        // The secret is needed only at delivery time; it never enters workflow history. A database
        // error's message carries the SQL with its parameters inlined: it must not reach a log line.
        await deps.orm.em
          .fork()
          .getConnection()
          .execute('insert into webhook_secrets (workflow_id, secret) values (?, ?) on conflict (workflow_id) do nothing', [input.workflowId, call.request.webhook.secret])
          .catch((e: { code?: string }) => {
            throw new Error(`storing the webhook secret failed (${e.code ?? 'database error'})`);
          });
      }
      let admitted!: (outcome: AdmissionOutcome) => void;
      const admission = new Promise<AdmissionOutcome>((resolve) => (admitted = resolve));
      const hold = deps.callers.hold(input.workflowId, { kind: 'async', admitted });
      const accepted = (created: number): AsyncAccepted => ({ id: input.workflowId, object: 'chat.completion.async', status: 'queued', poll_url: `/v1/jobs/${input.jobId}`, created });
      try {
        const started = await start(input);
        if (!started.fresh) return { accepted: accepted(Math.floor(started.startTime.getTime() / 1000)), budget: null };
        const outcome = (started.eager ? await admissionHere(admission) : null) ?? (await admissionFromWorkflow(started.handle));
        if (!outcome.ok) throw new GenieError(outcome.error);
        return { accepted: accepted(input.created), budget: outcome.budget };
      } finally {
        hold.release();
      }
    },
  };
}

async function admissionFromWorkflow(handle: Handle): Promise<AdmissionOutcome> {
  try {
    const admission = await handle.executeUpdate(admitUpdate);
    return { ok: true, budget: admission.budget };
  } catch (e) {
    return { ok: false, error: toGenieError(e).body };
  }
}

export type CompletionService = ReturnType<typeof createCompletionService>;
