import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ChatCompletion, FinishReason } from '../../protocol/chat-response.js';
import { finishReasonSchema } from '../../protocol/chat-response.js';
import type { GenerateInput, GenerateResult } from '../../protocol/completion-job.js';
import { APPLICATION_FAILURE_TYPE } from '../../protocol/errors.js';
import type { NodeRef } from '../nodes/node-list.js';
import type { NodeClient } from './node-client.js';
import type { Deliveries } from './deliveries.js';
import { UpstreamError } from './upstream-error.js';

export interface GenerateDeps {
  clientFor(node: NodeRef): NodeClient;
  /** Present in API processes: the sync caller waiting in this process gets the body directly. */
  deliveries?: Deliveries;
}

/** Details of a failed `generate`, read by the workflow to decide on failover. */
export interface GenerateFailureDetails {
  failover: boolean;
}

export function toFinishReason(raw: string | null | undefined): FinishReason | null {
  if (raw == null) return null;
  const parsed = finishReasonSchema.safeParse(raw);
  return parsed.success ? parsed.data : 'stop';
}

export function createGenerate(deps: GenerateDeps) {
  return async function generate(input: GenerateInput): Promise<GenerateResult> {
    const ctx = Context.current();
    const client = deps.clientFor(input.node);
    const started = performance.now();
    // Cancellation reaches an activity only through heartbeats: keep them flowing while the node works.
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    try {
      const body = await client.complete(input.node, input.request, ctx.cancellationSignal);
      const choice = body.choices[0];
      const finishReason = toFinishReason(choice.finish_reason) ?? 'stop';
      const completion: ChatCompletion = {
        id: input.workflowId,
        object: 'chat.completion',
        created: input.created,
        model: input.request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: choice.message.content ?? '' }, finish_reason: finishReason }],
        usage: body.usage,
      };
      deps.deliveries?.resolve(input.workflowId, completion);
      return { completion, usage: body.usage, finishReason, ttftMs: null, durationMs: Math.round(performance.now() - started) };
    } catch (e) {
      throw toActivityFailure(e);
    } finally {
      clearInterval(beat);
    }
  };
}

/**
 * Node failures become non-retryable activity failures carrying the caller-facing error: the workflow
 * (not the activity retry policy) decides whether another node is tried, because failover means a
 * new node selection.
 */
export function toActivityFailure(e: unknown, tokensSent = false): unknown {
  if (!(e instanceof UpstreamError)) return e;
  const details: GenerateFailureDetails = { failover: e.failover && !tokensSent };
  return ApplicationFailure.create({
    type: APPLICATION_FAILURE_TYPE,
    message: e.message,
    nonRetryable: true,
    details: [e.toGenieError(), details],
  });
}
