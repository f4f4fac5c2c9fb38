import { toNodeRequest, type ChatCompletionRequest, type CompletionMode } from './chat-request.js';
import type { CompletionJobInput } from './completion-job.js';
import type { Principal } from './principal.js';
import type { taskQueues } from '../workflows/definitions.js';

// The workflow input of one completion, from a validated request: the API's starts and the Batch API's
// lines build it the same way.

/** What a request brings besides its validated body. */
export interface CompletionCall {
  /** Chosen at the edge so every log line of the request carries the completion id (`chatcmpl-<jobId>`). */
  jobId: string;
  principal: Principal;
  request: ChatCompletionRequest;
  idempotency: { key: string; hash: string } | null;
}

/** What the input takes from the deployment. */
export interface InputSettings {
  queues: ReturnType<typeof taskQueues>;
  /** The API process's own task queue: the fallback `generate` for callers held there. */
  apiQueue: string;
  webhookScheduleMs: number[];
  /** max_tokens sent to the node (and reserved for) when the caller gives none. */
  defaultMaxTokens: number;
  /** How long an async job waits for a node that may come back (GENIE_ASYNC_NODE_WAIT_MS). */
  asyncNodeWaitMs: number;
}

/** The workflow's input; `model` is the resolved model id (personas resolve before the workflow). */
export function completionInput(call: CompletionCall, mode: CompletionMode, model: string, settings: InputSettings): CompletionJobInput {
  const callerHeld = mode !== 'async';
  const req = call.request;
  return {
    workflowId: `chatcmpl-${call.jobId}`,
    jobId: call.jobId,
    mode,
    created: Math.floor(Date.now() / 1000),
    principal: call.principal,
    request: { ...toNodeRequest(req, model), max_tokens: req.max_completion_tokens ?? req.max_tokens ?? settings.defaultMaxTokens },
    defaultMaxTokens: (req.max_completion_tokens ?? req.max_tokens) == null,
    generateQueue: callerHeld ? settings.apiQueue : settings.queues.inference,
    callerHeld,
    ...(callerHeld ? { serveHere: true } : { stepsFolded: true, nodeWaitMs: settings.asyncNodeWaitMs }),
    includeUsage: req.stream_options?.include_usage === true,
    metadata: req.metadata ?? null,
    webhook: req.webhook ? { url: req.webhook.url } : null,
    webhookScheduleMs: settings.webhookScheduleMs,
    requestHash: call.idempotency?.hash ?? null,
  };
}

