import { Context } from '@temporalio/activity';
import type { ChatCompletion, ChatCompletionChunk, FinishReason, Usage } from '../../protocol/chat-response.js';
import { finishReasonSchema } from '../../protocol/chat-response.js';
import type { GenerateInput, GenerateResult, SettleUsageInput, StreamRecord } from '../../protocol/completion-job.js';
import { GenieError } from '../../protocol/errors.js';
import { failures, readFailure, SHUTTING_DOWN as SHUTTING_DOWN_BODY } from '../../protocol/failures.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import type { NodeClient } from './node-client.js';
import type { NodeRef } from '../nodes/node-list.js';
import { UpstreamError } from './upstream-error.js';
import { structuredOutputError } from './structured-output.js';
import type { InFlight } from '../nodes/in-flight.js';
import { CALLER_LEFT, SHUTTING_DOWN, type CallerStream, type HeldCaller, type HeldCallers } from './held-caller.js';
import { activityLog } from '../log.js';

export interface GenerateDeps {
  clientFor(node: NodeRef): NodeClient;
  inFlight?: InFlight;
  /** API processes: the sync and stream callers whose connections this process holds. */
  callers?: HeldCallers;
  /** Keeps a keyed stream's deltas for replay (Postgres, in API processes). */
  keepStream?: (workflowId: string, record: StreamRecord) => Promise<void>;
  /** Books a completion's usage in the step that produced it: a caller-held one before its caller has the answer. */
  settle?: (input: SettleUsageInput) => Promise<unknown>;
  /**
   * How long a stream caller's head waits for the node to accept the request (its response head).
   * Until then a node's refusal is still a plain HTTP error; past it the caller gets the head and
   * keep-alives, and a later failure is inline.
   */
  streamHeadWaitMs?: number;
}

export function toFinishReason(raw: string | null | undefined): FinishReason | null {
  if (raw == null) return null;
  const parsed = finishReasonSchema.safeParse(raw);
  return parsed.success ? parsed.data : 'stop';
}

/**
 * The node call, in two activity shapes:
 * - `generateHere`, a local activity: for sync and stream, in the workflow task the API holding the
 *   caller started eagerly, so the whole completion is one workflow task. Null when this process does
 *   not hold the caller (the task ran elsewhere): the workflow then falls back to `generate`.
 * - `generate`, a regular activity: async jobs on the workers' inference queue, and the fallback for a
 *   caller-held completion on its API's own queue.
 */
export function createGenerate(deps: GenerateDeps) {
  const forCaller = (input: GenerateInput, ctx: Context) => (caller: HeldCaller) => observed(deps, input, () => answerCaller(deps, input, caller, ctx));
  return {
    async generateHere(input: GenerateInput): Promise<GenerateResult | null> {
      return deps.callers?.attempt(input.workflowId, input.attempt, forCaller(input, Context.current())) ?? null;
    },

    async generate(input: GenerateInput): Promise<GenerateResult> {
      const ctx = Context.current();
      // Cancellation reaches a regular activity only through heartbeats: keep them flowing while the node works.
      const beat = setInterval(() => ctx.heartbeat(), 1000);
      try {
        if (input.mode === 'async') return await observed(deps, input, () => completeForJob(deps, input, ctx));
        const run = deps.callers?.attempt(input.workflowId, input.attempt, forCaller(input, ctx));
        if (!run) throw failures.aborted(zeroUsage()); // the caller left this process before its turn came
        return await run;
      } finally {
        clearInterval(beat);
      }
    },
  };
}

async function observed(deps: GenerateDeps, input: GenerateInput, call: () => Promise<GenerateResult>): Promise<GenerateResult> {
  deps.inFlight?.inc(input.node.name);
  const log = activityLog();
  log.debug('calling the node', { node: input.node.name, mode: input.mode, attempt: input.attempt });
  try {
    const result = await call();
    log.info('node answered', { node: input.node.name, ttftMs: result.ttftMs, durationMs: result.durationMs, promptTokens: result.usage.prompt_tokens, completionTokens: result.usage.completion_tokens, finishReason: result.finishReason, settled: result.settled });
    return result;
  } catch (e) {
    log.warn('node call ended without an answer', { node: input.node.name, error: (e as Error).message, type: (e as { type?: string }).type });
    throw e;
  } finally {
    deps.inFlight?.dec(input.node.name);
  }
}

/**
 * An async job's node call: the body goes to history (and so to the job and its webhook), its usage
 * booked here first, so the workflow runs no settlement step of its own (one local activity fewer per
 * job; settlement is idempotent per run, so a retried attempt books nothing twice).
 */
async function completeForJob(deps: GenerateDeps, input: GenerateInput, ctx: Context): Promise<GenerateResult> {
  try {
    const result = await complete(deps, input, ctx.cancellationSignal);
    return { ...result, settled: await settleFirst(deps, input, result.usage) };
  } catch (e) {
    if (!ctx.cancellationSignal.aborted) throw toActivityFailure(e);
    // A deploy stopping this worker is not a cancellation: the workflow runs the attempt again elsewhere.
    throw shuttingDown(ctx) ? failures.shutdown(estimateUsage(input, 0), SHUTTING_DOWN_BODY) : failures.aborted(estimateUsage(input, 0));
  }
}

/** Sync or stream, in the process holding the caller: settle, then answer — in that order. */
async function answerCaller(deps: GenerateDeps, input: GenerateInput, caller: HeldCaller, ctx: Context): Promise<GenerateResult> {
  const signal = AbortSignal.any([ctx.cancellationSignal, caller.signal]);
  const progress = { emitted: 0 };
  if (signal.aborted && caller.signal.reason !== SHUTTING_DOWN && !shuttingDown(ctx)) {
    // Cancelled before the node call began (a caller who left while admission waited on Postgres): the
    // node never saw the request, so nothing is charged; the reservation is released by settlement.
    deps.callers?.troubled(input.workflowId);
    throw failures.aborted(zeroUsage());
  }
  try {
    if (caller.kind === 'stream') return await streamToCaller(deps, input, caller.stream, signal, progress);
    const result = await complete(deps, input, signal);
    const settled = await settleFirst(deps, input, result.usage);
    caller.deliver({ body: result.completion!, budget: input.budget });
    return { ...result, settled };
  } catch (e) {
    // Whatever follows (failover, the workflow's failure, a cancel), the caller hears the workflow now.
    deps.callers?.troubled(input.workflowId);
    const tell = (body: Parameters<CallerStream['fail']>[0]) => (caller.kind === 'stream' ? caller.stream.fail(body) : caller.fail(body));
    if (caller.signal.reason !== CALLER_LEFT && (caller.signal.reason === SHUTTING_DOWN || shuttingDown(ctx))) {
      // The grace period of a draining API ran out with this caller still waiting: say so, never cut silently.
      tell(SHUTTING_DOWN_BODY);
      throw failures.shutdown(estimateUsage(input, progress.emitted), SHUTTING_DOWN_BODY);
    }
    if (signal.aborted) throw failures.aborted(estimateUsage(input, progress.emitted));
    const tokensSent = progress.emitted > 0;
    // A stream caller past the first token (or facing an error no other node can fix) learns it inline,
    // right now; before that, the workflow may still fail over invisibly. A sync caller hears from the
    // workflow's outcome.
    if (caller.kind === 'stream') {
      if (e instanceof UpstreamError && !(e.failover && !tokensSent)) caller.stream.fail(e.toGenieError());
      else if (!(e instanceof UpstreamError) && readFailure(e).kind !== 'genie') caller.stream.fail(GenieError.internal((e as Error).message).body);
    }
    throw toActivityFailure(e, tokensSent);
  }
}

/**
 * A completion books its usage in the step that produced it. A caller-held one before the caller has
 * it: if this process dies right after answering, nothing the caller received goes unbilled. A
 * database hiccup must not cost the caller its answer (or an async job its node call): the workflow's
 * own settlement step (retried by Temporal) books it instead.
 */
async function settleFirst(deps: GenerateDeps, input: GenerateInput, usage: Usage): Promise<boolean> {
  if (!deps.settle) return false;
  try {
    await deps.settle({ workflowId: input.workflowId, runId: input.runId, mode: input.mode, principal: input.principal, model: input.request.model, node: input.node.name, usage, outcome: 'completed', price: input.price, reservedMicroUsd: input.reservedMicroUsd });
    return true;
  } catch (e) {
    activityLog().warn('settling before the answer failed; the workflow settles instead', { error: (e as Error).message });
    return false;
  }
}

async function complete(deps: GenerateDeps, input: GenerateInput, signal: AbortSignal): Promise<GenerateResult> {
  const started = performance.now();
  const body = await deps.clientFor(input.node).complete(input.node, input.request, signal);
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
  return { completion, usage: body.usage, finishReason, ttftMs: null, durationMs: Math.round(performance.now() - started), settled: false };
}

/** A strict json_schema the output broke: the caller gets a clear 500, never invalid JSON as success. */
function invalidOutput(message: string) {
  return failures.genie({ ...GenieError.internal(message).body, code: 'invalid_structured_output' }, { failover: false, suspect: false });
}

/**
 * Stream mode: chunks go from the node straight to the caller's held connection in this process;
 * only usage and timings return to the workflow (tokens never enter Temporal history).
 */
async function streamToCaller(deps: GenerateDeps, input: GenerateInput, caller: CallerStream, signal: AbortSignal, progress: { emitted: number }): Promise<GenerateResult> {
  const started = performance.now();
  let ttftMs: number | null = null;
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
  // Back-pressure: while the caller's socket is full, the node's stream is not read (so the node's
  // connection fills and pauses it) — memory per stream stays bounded however slowly the caller reads.
  // The node's stall clock does not run meanwhile: the wait is the caller's, not the node's.
  const send = async (c: ChatCompletionChunk) => {
    if (!caller.write(c)) await caller.drained(signal);
  };

  // The head goes out once the node accepted the request, so a node's refusal (context too long, a bad
  // parameter) reaches the caller as the plain OpenAI error a node or OpenAI would send; a node slow to
  // answer gets a bounded wait, then the head and keep-alives.
  const open = () => caller.open(input.budget);
  const headWait = setTimeout(open, deps.streamHeadWaitMs ?? 5000);
  try {
    for await (const event of deps.clientFor(input.node).stream(input.node, input.request, signal, open)) {
      if (event.usage) usage = event.usage;
      for (const c of event.choices) {
        // The role chunk was sent by open(); nodes repeat it with empty content.
        if (c.delta.content) {
          ttftMs ??= Math.round(performance.now() - started);
          progress.emitted++;
          text += c.delta.content;
          if (input.keepStream) sent.push({ content: c.delta.content });
          await send(chunk({ content: c.delta.content }, null));
        }
        if (c.delta.tool_calls?.length) {
          // Tool-call fragments pass through as OpenAI streams them (id and name first, then arguments).
          ttftMs ??= Math.round(performance.now() - started);
          progress.emitted++;
          if (input.keepStream) sent.push({ tool_calls: c.delta.tool_calls });
          await send(chunk({ tool_calls: c.delta.tool_calls }, null));
        }
        if (c.finish_reason) finishReason = toFinishReason(c.finish_reason);
      }
    }
  } finally {
    clearTimeout(headWait);
  }
  // The finish chunk waits for the end: a strict schema's verdict is only known with the whole text.
  const invalid = structuredOutputError(input.request, text);
  if (invalid) {
    caller.fail({ ...GenieError.internal(invalid).body, code: 'invalid_structured_output' });
    throw invalidOutput(invalid);
  }
  if (finishReason) caller.write(chunk({}, finishReason));
  const finalUsage = usage ?? estimateUsage(input, progress.emitted);
  if (input.keepStream) await deps.keepStream?.(input.workflowId, { deltas: sent, finishReason, usage: finalUsage });
  if (input.includeUsage) caller.write({ ...chunk({}, null), choices: [], usage: finalUsage });
  const settled = await settleFirst(deps, input, finalUsage);
  caller.end();
  return { completion: null, usage: finalUsage, finishReason, ttftMs, durationMs: Math.round(performance.now() - started), settled };
}

function zeroUsage(): Usage {
  return { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
}

function estimateUsage(input: GenerateInput, completionTokens: number): Usage {
  const prompt = estimatePromptTokens(input.request.messages);
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
}

function shuttingDown(ctx: Context): boolean {
  return ctx.cancellationSignal.aborted && ctx.cancellationDetails?.workerShutdown === true && !ctx.cancellationDetails.cancelRequested;
}

/**
 * Node failures become non-retryable activity failures carrying the caller-facing error: the workflow
 * (not the activity retry policy) decides whether another node is tried, because failover means a
 * new node selection.
 */
export function toActivityFailure(e: unknown, tokensSent = false): unknown {
  if (!(e instanceof UpstreamError)) return e;
  return failures.genie(e.toGenieError(), { failover: e.failover && !tokensSent, suspect: e.status === null });
}
