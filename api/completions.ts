import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Deliveries } from '../activities/inference/deliveries.js';
import { newId } from '../db/ids.js';
import { toNodeRequest, type ChatCompletionRequest, type CompletionMode } from '../protocol/chat-request.js';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { CompletionJobInput } from '../protocol/completion-job.js';
import type { Principal } from '../protocol/principal.js';
import { GenieError } from '../protocol/errors.js';
import { searchAttributes, TASK_QUEUES } from '../workflows/definitions.js';
import type { chatCompletion } from '../workflows/chat-completion.js';

export interface CompletionServiceDeps {
  temporal: Client;
  deliveries: Deliveries;
  /** This API process's own task queue, where caller-held `generate` activities run. */
  apiQueue: string;
  log: Logger;
}

/** Starts `chatCompletion` workflows and waits for what each mode needs before answering. */
export function createCompletionService(deps: CompletionServiceDeps) {
  function startInput(principal: Principal, req: ChatCompletionRequest, mode: CompletionMode): CompletionJobInput {
    const jobId = newId();
    return {
      workflowId: `chatcmpl-${jobId}`,
      jobId,
      mode,
      created: Math.floor(Date.now() / 1000),
      principal,
      request: toNodeRequest(req, req.model),
      generateQueue: mode === 'async' ? TASK_QUEUES.inference : deps.apiQueue,
    };
  }

  async function start(input: CompletionJobInput) {
    return deps.temporal.workflow.start<typeof chatCompletion>('chatCompletion', {
      workflowId: input.workflowId,
      taskQueue: TASK_QUEUES.workflows,
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

  return {
    /** Sync: answer as soon as `generate` (on this process's queue) has the body; settlement goes on. */
    async sync(principal: Principal, req: ChatCompletionRequest): Promise<ChatCompletion> {
      const input = startInput(principal, req, 'sync');
      const delivered = deps.deliveries.expect(input.workflowId);
      try {
        const handle = await start(input);
        const finished = handle.result().then((out) => {
          if (!out.completion) throw GenieError.internal('the completion finished without a body');
          return out.completion;
        });
        // The workflow's own end still matters when the delivery won the race: observe it, never leak it.
        finished.catch((e) => deps.log.debug({ completionId: input.workflowId, err: (e as Error).message }, 'workflow ended with an error'));
        return await Promise.race([delivered, finished]);
      } finally {
        deps.deliveries.forget(input.workflowId);
      }
    },
  };
}

export type CompletionService = ReturnType<typeof createCompletionService>;
