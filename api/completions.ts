import type { Response } from 'express';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Logger } from 'pino';
import type { CallerStreams } from '../activities/inference/caller-streams.js';
import type { Deliveries } from '../activities/inference/deliveries.js';
import { newId } from '../db/ids.js';
import { toNodeRequest, type ChatCompletionRequest, type CompletionMode } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { CompletionJobInput } from '../protocol/completion-job.js';
import type { Principal } from '../protocol/principal.js';
import { GenieError } from '../protocol/errors.js';
import { searchAttributes, taskQueues } from '../workflows/definitions.js';
import type { chatCompletion } from '../workflows/chat-completion.js';
import { toGenieError } from './middleware/error-mapper.js';
import { SseSink } from './streaming/sse-sink.js';

export interface CompletionServiceDeps {
  temporal: Client;
  deliveries: Deliveries;
  streams: CallerStreams;
  queues: ReturnType<typeof taskQueues>;
  /** This API process's own task queue, where caller-held `generate` activities run. */
  apiQueue: string;
  keepAliveMs: number;
  log: Logger;
}

/** How long a departing caller's cancel may take before the node request is cut anyway. */
const CANCEL_GRACE_MS = 200;

/** Starts `chatCompletion` workflows and waits for what each mode needs before answering. */
export function createCompletionService(deps: CompletionServiceDeps) {
  function startInput(principal: Principal, req: ChatCompletionRequest, mode: CompletionMode): CompletionJobInput {
    const jobId = newId();
    const callerHeld = mode !== 'async';
    return {
      workflowId: `chatcmpl-${jobId}`,
      jobId,
      mode,
      created: Math.floor(Date.now() / 1000),
      principal,
      request: toNodeRequest(req, req.model),
      generateQueue: callerHeld ? deps.apiQueue : deps.queues.inference,
      callerHeld,
      includeUsage: req.stream_options?.include_usage === true,
    };
  }

  function start(input: CompletionJobInput): Promise<WorkflowHandle<typeof chatCompletion>> {
    return deps.temporal.workflow.start<typeof chatCompletion>('chatCompletion', {
      workflowId: input.workflowId,
      taskQueue: deps.queues.workflows,
      args: [input],
      staticSummary: `${input.mode} ${input.request.model} for org ${input.principal.orgId}`,
      typedSearchAttributes: [
        { key: searchAttributes.orgId, value: input.principal.orgId },
        { key: searchAttributes.applicationId, value: input.principal.applicationId },
        { key: searchAttributes.model, value: input.request.model },
        { key: searchAttributes.mode, value: input.mode },
        { key: searchAttributes.status, value: 'queued' },
      ],
    });
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
    async sync(principal: Principal, req: ChatCompletionRequest, res: Response): Promise<ChatCompletion> {
      const input = startInput(principal, req, 'sync');
      const delivered = deps.deliveries.expect(input.workflowId);
      let handle: WorkflowHandle | null = null;
      let answered = false;
      const detach = cancelOnDisconnect(res, () => answered, () => handle);
      try {
        handle = await start(input);
        const finished = handle.result().then((out) => {
          if (!out.completion) throw GenieError.internal('the completion finished without a body');
          return out.completion;
        });
        // The workflow's own end still matters when the delivery won the race: observe it, never leak it.
        finished.catch((e) => deps.log.debug({ completionId: input.workflowId, err: (e as Error).message }, 'workflow ended with an error'));
        const body = await Promise.race([delivered, finished]);
        answered = true;
        return body;
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
    async stream(principal: Principal, req: ChatCompletionRequest, res: Response): Promise<void> {
      const input = startInput(principal, req, 'stream');
      const sink = new SseSink(res, { id: input.workflowId, model: input.request.model, created: input.created }, deps.keepAliveMs);
      deps.streams.hold(input.workflowId, sink);
      let handle: WorkflowHandle | null = null;
      const detach = cancelOnDisconnect(res, () => sink.isDone, () => handle, () => sink.abort());
      try {
        handle = await start(input);
        handle.result().then(
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
  };
}

export type CompletionService = ReturnType<typeof createCompletionService>;
