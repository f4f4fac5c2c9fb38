import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ChatCompletion, ChatCompletionChunk, FinishReason, Usage } from '../../protocol/chat-response.js';
import { finishReasonSchema } from '../../protocol/chat-response.js';
import type { GenerateInput, GenerateResult, GenerationAborted, StreamRecord } from '../../protocol/completion-job.js';
import { APPLICATION_FAILURE_TYPE, GenieError } from '../../protocol/errors.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import type { NodeRef } from '../nodes/node-list.js';
import type { CallerStreams } from './caller-streams.js';
import type { Deliveries } from './deliveries.js';
import type { NodeClient } from './node-client.js';
import { UpstreamError } from './upstream-error.js';
import { structuredOutputError } from './structured-output.js';
import type { InFlight } from '../nodes/in-flight.js';
import { activityLog } from '../log.js';

export const GENERATION_ABORTED = 'GenerationAborted';
/** This process is shutting down and its grace period ran out: not the caller's doing, not the node's. */
export const WORKER_SHUTDOWN = 'WorkerShutdown';

export interface GenerateDeps {
  clientFor(node: NodeRef): NodeClient;
  /** Present in API processes: the sync caller waiting in this process gets the body directly. */
  deliveries?: Deliveries;
  /** Present in API processes: stream callers whose connection this process holds. */
  streams?: CallerStreams;
  inFlight?: InFlight;
  /** Keeps a keyed stream's deltas for replay (Postgres, in API processes). */
  keepStream?: (workflowId: string, record: StreamRecord) => Promise<void>;
}

/** Details of a failed `generate`, read by the workflow to decide on failover. */
export interface GenerateFailureDetails {
  failover: boolean;
  /** The node itself did not answer (refused, reset, timed out): suspect, not just this request. */
  suspect: boolean;
}

export function toFinishReason(raw: string | null | undefined): FinishReason | null {
  if (raw == null) return null;
  const parsed = finishReasonSchema.safeParse(raw);
  return parsed.success ? parsed.data : 'stop';
}

export function createGenerate(deps: GenerateDeps) {
  return async function generate(input: GenerateInput): Promise<GenerateResult> {
    const ctx = Context.current();
    // Cancellation reaches an activity only through heartbeats: keep them flowing while the node works.
    const beat = setInterval(() => ctx.heartbeat(), 1000);
    deps.inFlight?.inc(input.node.name);
    const log = activityLog();
    log.debug('calling the node', { node: input.node.name, mode: input.mode, attempt: input.attempt });
    try {
      const result = input.mode === 'stream' ? await streamToCaller(deps, input, ctx) : await complete(deps, input, ctx);
      log.info('node answered', { node: input.node.name, ttftMs: result.ttftMs, durationMs: result.durationMs, promptTokens: result.usage.prompt_tokens, completionTokens: result.usage.completion_tokens, finishReason: result.finishReason });
      return result;
    } catch (e) {
      log.warn('node call ended without an answer', { node: input.node.name, error: (e as Error).message, type: (e as ApplicationFailure).type });
      throw e;
    } finally {
      clearInterval(beat);
      deps.inFlight?.dec(input.node.name);
    }
  };
}

async function complete(deps: GenerateDeps, input: GenerateInput, ctx: Context): Promise<GenerateResult> {
  const started = performance.now();
  try {
    const body = await deps.clientFor(input.node).complete(input.node, input.request, ctx.cancellationSignal);
    const choice = body.choices[0];
    const finishReason = toFinishReason(choice.finish_reason) ?? 'stop';
    const toolCalls = choice.message.tool_calls?.length ? choice.message.tool_calls : undefined;
    const content = choice.message.content ?? (toolCalls ? null : '');
    const invalid = content !== null ? structuredOutputError(input.request, content) : null;
    if (invalid) throw invalidOutput(invalid);
    const completion: ChatCompletion = {
      id: input.workflowId,
      object: 'chat.completion',
      created: input.created,
      model: input.request.model,
      choices: [{ index: 0, message: { role: 'assistant', content, ...(toolCalls ? { tool_calls: toolCalls } : {}) }, finish_reason: finishReason }],
      usage: body.usage,
    };
    deps.deliveries?.resolve(input.workflowId, { body: completion, budget: input.budget });
    return { completion, usage: body.usage, finishReason, ttftMs: null, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    if (ctx.cancellationSignal.aborted) {
      if (!shuttingDown(ctx)) throw aborted(input, 0);
      // A sync caller waiting in this (draining) process learns it now, as a 503, not as a cut socket.
      deps.deliveries?.reject(input.workflowId, new GenieError(SHUTTING_DOWN));
      throw workerShutdown(input, 0);
    }
    throw toActivityFailure(e);
  }
}

/** A strict json_schema the output broke: the caller gets a clear 500, never invalid JSON as success. */
function invalidOutput(message: string): ApplicationFailure {
  const body = { ...GenieError.internal(message).body, code: 'invalid_structured_output' };
  return ApplicationFailure.create({ type: APPLICATION_FAILURE_TYPE, message, nonRetryable: true, details: [body, { failover: false, suspect: false }] });
}

/**
 * Stream mode: chunks go from the node straight to the caller's held connection in this process;
 * only usage and timings return to the workflow (tokens never enter Temporal history).
 */
async function streamToCaller(deps: GenerateDeps, input: GenerateInput, ctx: Context): Promise<GenerateResult> {
  const caller = deps.streams?.get(input.workflowId);
  if (!caller) throw aborted(input, 0); // this process no longer holds the caller
  const signal = AbortSignal.any([ctx.cancellationSignal, caller.signal]);
  const started = performance.now();
  let ttftMs: number | null = null;
  let emitted = 0;
  let usage: Usage | null = null;
  let finishReason: FinishReason | null = null;
  let text = '';
  const sent: StreamRecord['deltas'] = [];
  const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: FinishReason | null): ChatCompletionChunk => ({
    id: input.workflowId,
    object: 'chat.completion.chunk',
    created: input.created,
    model: input.request.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });

  caller.open(input.budget);
  try {
    for await (const event of deps.clientFor(input.node).stream(input.node, input.request, signal)) {
      if (event.usage) usage = event.usage;
      for (const c of event.choices) {
        // The role chunk was sent by open(); nodes repeat it with empty content.
        if (c.delta.content) {
          ttftMs ??= Math.round(performance.now() - started);
          emitted++;
          text += c.delta.content;
          if (input.keepStream) sent.push({ content: c.delta.content });
          caller.write(chunk({ content: c.delta.content }, null));
        }
        if (c.delta.tool_calls?.length) {
          // Tool-call fragments pass through as OpenAI streams them (id and name first, then arguments).
          ttftMs ??= Math.round(performance.now() - started);
          emitted++;
          if (input.keepStream) sent.push({ tool_calls: c.delta.tool_calls });
          caller.write(chunk({ tool_calls: c.delta.tool_calls }, null));
        }
        if (c.finish_reason) finishReason = toFinishReason(c.finish_reason);
      }
    }
    // The finish chunk waits for the end: a strict schema's verdict is only known with the whole text.
    const invalid = structuredOutputError(input.request, text);
    if (invalid) {
      caller.fail({ ...GenieError.internal(invalid).body, code: 'invalid_structured_output' });
      throw invalidOutput(invalid);
    }
    if (finishReason) caller.write(chunk({}, finishReason));
    const finalUsage = usage ?? estimateUsage(input, emitted);
    if (input.keepStream) await deps.keepStream?.(input.workflowId, { deltas: sent, finishReason, usage: finalUsage });
    if (input.includeUsage) caller.write({ ...chunk({}, null), choices: [], usage: finalUsage });
    caller.end();
    return { completion: null, usage: finalUsage, finishReason, ttftMs, durationMs: Math.round(performance.now() - started) };
  } catch (e) {
    if (shuttingDown(ctx) && !caller.signal.aborted) {
      // The grace period of a draining API ran out with this stream still going: say so, never cut silently.
      caller.fail(SHUTTING_DOWN);
      throw workerShutdown(input, emitted);
    }
    if (signal.aborted) throw aborted(input, emitted);
    const tokensSent = ttftMs !== null;
    const failure = toActivityFailure(e, tokensSent);
    // Past the first token no other node can take over: the caller learns it inline, right now.
    if (e instanceof UpstreamError && !(e.failover && !tokensSent)) caller.fail(e.toGenieError());
    else if (!(e instanceof UpstreamError)) caller.fail(GenieError.internal((e as Error).message).body);
    throw failure;
  }
}

function estimateUsage(input: GenerateInput, completionTokens: number): Usage {
  const prompt = estimatePromptTokens(input.request.messages);
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
}

function shuttingDown(ctx: Context): boolean {
  return ctx.cancellationSignal.aborted && ctx.cancellationDetails?.workerShutdown === true && !ctx.cancellationDetails.cancelRequested;
}

const SHUTTING_DOWN = GenieError.unavailable('this Genie process is shutting down and its grace period ran out; retry the request').body;

/**
 * This process stopped before the node answered. An async job's workflow runs the attempt again on
 * another worker (it loses nothing to a deploy); a caller-held one ends failed with the 503 its caller
 * was shown, and what was produced so far is settled.
 */
function workerShutdown(input: GenerateInput, completionTokens: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: WORKER_SHUTDOWN,
    message: SHUTTING_DOWN.message,
    nonRetryable: true,
    details: [{ usage: estimateUsage(input, completionTokens), body: SHUTTING_DOWN }],
  });
}

/** The caller left or the workflow was cancelled: report what was produced so it is settled, not lost. */
function aborted(input: GenerateInput, completionTokens: number): ApplicationFailure {
  const details: GenerationAborted = { usage: estimateUsage(input, completionTokens) };
  return ApplicationFailure.create({ type: GENERATION_ABORTED, message: 'generation aborted', nonRetryable: true, details: [details] });
}

/**
 * Node failures become non-retryable activity failures carrying the caller-facing error: the workflow
 * (not the activity retry policy) decides whether another node is tried, because failover means a
 * new node selection.
 */
export function toActivityFailure(e: unknown, tokensSent = false): unknown {
  if (!(e instanceof UpstreamError)) return e;
  const details: GenerateFailureDetails = { failover: e.failover && !tokensSent, suspect: e.status === null };
  return ApplicationFailure.create({
    type: APPLICATION_FAILURE_TYPE,
    message: e.message,
    nonRetryable: true,
    details: [e.toGenieError(), details],
  });
}
