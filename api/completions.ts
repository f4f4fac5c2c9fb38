import type { Response } from 'express';
import { WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { CallerStreams } from '../activities/inference/caller-streams.js';
import type { Deliveries } from '../activities/inference/deliveries.js';
import type { WebhookUrlGuard } from '../activities/webhooks/url-guard.js';
import { toNodeRequest, type ChatCompletionRequest, type CompletionMode } from '../protocol/chat-request.js';
import { streamRecordSchema, type Admission, type CompletionJobInput } from '../protocol/completion-job.js';
import type { AsyncAccepted } from '../protocol/job.js';
import type { Principal } from '../protocol/principal.js';
import { GenieError } from '../protocol/errors.js';
import { estimatePromptTokens } from '../protocol/token-estimate.js';
import { admitUpdate, searchAttributes, taskQueues } from '../workflows/definitions.js';
import type { chatCompletion } from '../workflows/chat-completion.js';
import { toGenieError } from './middleware/error-mapper.js';
import { SseSink } from './streaming/sse-sink.js';
import type { PersonaCache } from './personas.js';
import type { Delivery } from '../activities/inference/deliveries.js';
import type { GenieMetrics } from '../activities/metrics.js';

export interface CompletionServiceDeps {
  temporal: Client;
  orm: MikroORM;
  deliveries: Deliveries;
  streams: CallerStreams;
  queues: ReturnType<typeof taskQueues>;
  /** This API process's own task queue, where caller-held `generate` activities run. */
  apiQueue: string;
  keepAliveMs: number;
  webhookGuard: WebhookUrlGuard;
  webhookScheduleMs: number[];
  /** max_tokens sent to the node (and reserved for) when the caller gives none. */
  defaultMaxTokens: number;
  personas: PersonaCache;
  log: Logger;
  metrics?: GenieMetrics;
  /** This process runs workflow tasks on the shared queue, so sync/stream starts may be eager. */
  eagerStart?: boolean;
}

/** What a request brings besides its validated body. */
export interface CompletionCall {
  /** Chosen at the edge so every log line of the request carries the completion id (`chatcmpl-<jobId>`). */
  jobId: string;
  principal: Principal;
  request: ChatCompletionRequest;
  idempotency: { key: string; hash: string } | null;
}

/** How long a departing caller's cancel may take before the node request is cut anyway. */
const CANCEL_GRACE_MS = 200;

const keyReused = GenieError.idempotencyKeyReused;
const keyInUse = GenieError.idempotencyKeyInUse;

/** Starts `chatCompletion` workflows and waits for what each mode needs before answering. */
export function createCompletionService(deps: CompletionServiceDeps) {
  /** Persona aliases resolve here, so the workflow, the node and the response all see the model id. */
  async function startInput(call: CompletionCall, mode: CompletionMode): Promise<CompletionJobInput> {
    const model = await deps.personas.resolve(call.request.model);
    const jobId = call.jobId;
    const callerHeld = mode !== 'async';
    const req = call.request;
    return {
      workflowId: `chatcmpl-${jobId}`,
      jobId,
      mode,
      created: Math.floor(Date.now() / 1000),
      principal: call.principal,
      request: { ...toNodeRequest(req, model), max_tokens: req.max_completion_tokens ?? req.max_tokens ?? deps.defaultMaxTokens },
      generateQueue: callerHeld ? deps.apiQueue : deps.queues.inference,
      callerHeld,
      includeUsage: req.stream_options?.include_usage === true,
      metadata: req.metadata ?? null,
      webhook: req.webhook ? { url: req.webhook.url } : null,
      webhookScheduleMs: deps.webhookScheduleMs,
      requestHash: call.idempotency?.hash ?? null,
    };
  }

  function startOptions(input: CompletionJobInput) {
    return {
      workflowId: input.workflowId,
      taskQueue: deps.queues.workflows,
      args: [input] as [CompletionJobInput],
      // What ops read in the Temporal UI's list and header without opening a payload.
      staticSummary: `${input.mode} · ${input.request.model} · org ${input.principal.orgId} · ~${estimatePromptTokens(input.request.messages)} prompt tokens, max ${input.request.max_tokens}`,
      staticDetails: [
        `**${input.mode}** completion of \`${input.request.model}\``,
        `org \`${input.principal.orgId}\` · application \`${input.principal.applicationId}\` · member \`${input.principal.memberId}\` · key \`${input.principal.keyId}\``,
        `${input.request.messages.length} messages, ~${estimatePromptTokens(input.request.messages)} prompt tokens (estimate), max_tokens ${input.request.max_tokens}`,
        input.webhook ? `webhook to ${new URL(input.webhook.url).host}` : null,
      ]
        .filter(Boolean)
        .join('  \n'),
      memo: { requestHash: input.requestHash, metadata: input.metadata },
      // A keyed workflow id is used once: a finished one is found, never started again.
      workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
      // Sync and stream wait on the first workflow task: take it in the start call (this process also
      // runs workflow tasks). Async starts go through update-with-start, which is never eager.
      requestEagerStart: input.callerHeld && deps.eagerStart === true,
      typedSearchAttributes: [
        { key: searchAttributes.orgId, value: input.principal.orgId },
        { key: searchAttributes.applicationId, value: input.principal.applicationId },
        { key: searchAttributes.model, value: input.request.model },
        { key: searchAttributes.mode, value: input.mode },
        { key: searchAttributes.status, value: 'queued' },
      ],
    };
  }

  /** An existing keyed workflow: the same body finds it, a different body is a 409. */
  async function existing(input: CompletionJobInput): Promise<WorkflowHandle<typeof chatCompletion>> {
    const handle = deps.temporal.workflow.getHandle<typeof chatCompletion>(input.workflowId);
    const desc = await handle.describe();
    if (desc.memo?.requestHash !== input.requestHash) throw keyReused();
    return handle;
  }

  async function start(input: CompletionJobInput): Promise<{ handle: WorkflowHandle<typeof chatCompletion>; fresh: boolean }> {
    try {
      return { handle: await deps.temporal.workflow.start<typeof chatCompletion>('chatCompletion', startOptions(input)), fresh: true };
    } catch (e) {
      if (e instanceof WorkflowExecutionAlreadyStartedError && input.requestHash) return { handle: await existing(input), fresh: false };
      throw e;
    }
  }

  async function replayStream(handle: WorkflowHandle<typeof chatCompletion>, sink: SseSink, includeUsage: boolean): Promise<void> {
    if ((await handle.describe()).status.name === 'RUNNING') throw keyInUse();
    const rows = await deps.orm.em.fork().getConnection().execute<Array<{ body: unknown }>>('select body from stream_results where workflow_id = ?', [handle.workflowId]);
    if (!rows[0]) {
      await handle.result(); // a stream that failed: its error, as a plain JSON error
      throw keyInUse();
    }
    const record = streamRecordSchema.parse(rows[0].body);
    sink.forgetFirstToken();
    sink.open(null);
    for (const delta of record.deltas) sink.writeDelta(delta, null);
    if (record.finishReason) sink.writeDelta({}, record.finishReason);
    if (includeUsage) sink.writeUsage(record.usage);
    sink.end();
  }

  /** A caller that leaves before its answer cancels the workflow (which settles what was produced). */
  function cancelOnDisconnect(res: Response, isAnswered: () => boolean, handle: () => WorkflowHandle | null, cut?: () => void) {
    const onClose = () => {
      if (isAnswered()) return;
      const cancelled = handle()?.cancel().catch((e) => deps.log.warn({ err: (e as Error).message }, 'cancel after disconnect failed'));
      const grace = new Promise((r) => setTimeout(r, CANCEL_GRACE_MS));
      void Promise.race([cancelled, grace]).finally(() => cut?.());
    };
    res.on('close', onClose);
    return () => res.off('close', onClose);
  }

  return {
    /** Sync: answer as soon as `generate` (on this process's queue) has the body; settlement goes on. */
    async sync(call: CompletionCall, res: Response): Promise<Delivery> {
      const input = await startInput(call, 'sync');
      const delivered = deps.deliveries.expect(input.workflowId);
      delivered.catch(() => undefined); // observed by the race below; a duplicate never awaits it
      let handle: WorkflowHandle | null = null;
      let answered = false;
      const detach = cancelOnDisconnect(res, () => answered, () => handle);
      try {
        const started = await start(input);
        handle = started.fresh ? started.handle : null; // a duplicate must not cancel the original
        const finished = started.handle.result().then((out): Delivery => {
          if (!out.completion) throw GenieError.internal('the completion finished without a body');
          return { body: out.completion, budget: null };
        });
        // The workflow's own end still matters when the delivery won the race: observe it, never leak it.
        finished.catch((e) => deps.log.debug({ completionId: input.workflowId, err: (e as Error).message }, 'workflow ended with an error'));
        const delivery = started.fresh ? await Promise.race([delivered, finished]) : await finished;
        answered = true;
        return delivery;
      } finally {
        answered = true;
        detach();
        deps.deliveries.forget(input.workflowId);
      }
    },

    /**
     * Stream: the head goes out when `generate` starts here (every refusal before that is a JSON
     * error); the activity writes chunks straight to the socket; a workflow failure after the head
     * becomes the inline error chunk.
     */
    async stream(call: CompletionCall, res: Response): Promise<void> {
      const input = await startInput(call, 'stream');
      const startedAt = (res.locals.startedAt as bigint | undefined) ?? process.hrtime.bigint();
      const sink = new SseSink(res, { id: input.workflowId, model: input.request.model, created: input.created }, deps.keepAliveMs, () =>
        deps.metrics?.timeToFirstToken.observe({ model: input.request.model }, Number(process.hrtime.bigint() - startedAt) / 1e9),
      );
      let handle: WorkflowHandle | null = null;
      const detach = cancelOnDisconnect(res, () => sink.isDone, () => handle, () => sink.abort());
      try {
        deps.streams.hold(input.workflowId, sink);
        const started = await start(input);
        // A keyed duplicate: a running stream cannot be joined (its tokens go to one socket); a finished
        // one is replayed from what it sent.
        if (!started.fresh) return await replayStream(started.handle, sink, input.includeUsage);
        handle = started.handle;
        started.handle.result().then(
          () => sink.fail(GenieError.internal('the stream ended without its final chunk').body),
          (e) => sink.fail(toGenieError(e).body),
        );
        await sink.opened;
        await sink.finished;
      } finally {
        detach();
        deps.streams.release(input.workflowId);
      }
    },

    /**
     * Async: update-with-start returns once the workflow admitted the job, so a refusal is answered
     * synchronously (no job to poll) and a 202 never waits for inference.
     */
    async async(call: CompletionCall): Promise<{ accepted: AsyncAccepted; budget: Admission['budget'] }> {
      if (call.request.webhook) await deps.webhookGuard.assertAllowed(call.request.webhook.url);
      const input = await startInput(call, 'async');
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
      let created = input.created;
      let budget: Admission['budget'] = null;
      try {
        const startOp = new WithStartWorkflowOperation<typeof chatCompletion>('chatCompletion', {
          ...startOptions(input),
          workflowIdConflictPolicy: 'USE_EXISTING',
        });
        const admission = await deps.temporal.workflow.executeUpdateWithStart(admitUpdate, { startWorkflowOperation: startOp });
        if (admission.requestHash !== input.requestHash) throw keyReused();
        budget = admission.budget;
      } catch (e) {
        if (!(e instanceof WorkflowExecutionAlreadyStartedError) || !input.requestHash) throw e;
        const desc = await (await existing(input)).describe();
        created = Math.floor(desc.startTime.getTime() / 1000);
      }
      return { accepted: { id: input.workflowId, object: 'chat.completion.async', status: 'queued', poll_url: `/v1/jobs/${input.jobId}`, created }, budget };
    },
  };
}

export type CompletionService = ReturnType<typeof createCompletionService>;
