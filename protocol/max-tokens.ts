import type { GenieErrorBody } from './errors.js';
import { failures } from './failures.js';
import type { NodeRequest } from './chat-request.js';

/**
 * max_tokens against a node's context length (issue 14): pure, so admission and the workflow's
 * failover (which re-fits against the node it moves to) decide it the same way. The workflow bundle
 * imports this file: it must not import values from modules built on zod (errors.ts is type-only here),
 * or every workflow task evaluates zod in the sandbox (test/unit/workflow-bundle.test.ts).
 */
export interface FitInput {
  /** The request's max_tokens: the caller's, or Genie's default when `defaulted`. */
  maxTokens: number | null;
  defaulted: boolean;
  /** Prompt + output tokens the node's model accepts (learned from vLLM, or the node's configured length); undefined = unknown. */
  contextLength: number | undefined;
  /**
   * Does the engine fit a missing max_tokens to the context itself? vLLM does (it allows what the
   * context leaves). Triton does not: TensorRT-LLM requires the input and refuses prompt + max_tokens
   * beyond its max sequence length; the vLLM backend falls back to 16 tokens.
   */
  engineFitsMissing: boolean;
  /** A prompt bound no engine's count exceeds (`promptTokenBound`): what is left of the context for the output. */
  promptBound: number;
}
export interface Fit {
  /** What to send instead of the request's max_tokens: a number, or null for none; absent = as it is. */
  send?: number | null;
  /** The most output tokens the node may produce: what the reservation is for. */
  outputBound: number;
}

/**
 * - The caller's own max_tokens beyond the context is Genie's 400 naming it, before any node call (one
 *   that fits beside the prompt only together with it goes as it is: the engine decides).
 * - Genie's default beyond the context is not sent as it is: a vLLM node gets none (the engine allows
 *   what the context leaves, and the context length bounds the output), a Triton node what the context
 *   leaves beside the prompt's bound (at least 1).
 * Unknown context (no length learned or configured): the request goes as it is.
 */
export function fitMaxTokens({ maxTokens, defaulted, contextLength, engineFitsMissing, promptBound }: FitInput): Fit {
  const asked = maxTokens ?? 0;
  if (!contextLength) return { outputBound: asked };
  if (defaulted && !engineFitsMissing) {
    // TensorRT-LLM refuses prompt + max_tokens beyond its max sequence length: Genie's default must fit
    // beside the prompt, not only on its own (4096 on an engine of 4096 would be refused every time).
    if (asked + promptBound <= contextLength) return { outputBound: asked };
    const left = Math.max(1, contextLength - promptBound);
    return { send: left, outputBound: left };
  }
  if (asked <= contextLength) return { outputBound: asked };
  if (defaulted) return { send: null, outputBound: contextLength };
  throw failures.genie(contextExceeded(asked, contextLength));
}

/** The 400 for a caller's max_tokens no serving node's context holds (a body, as GenieError.badRequest makes). */
export function contextExceeded(asked: number, contextLength: number): GenieErrorBody {
  return {
    status: 400,
    type: 'invalid_request_error',
    message: `max_tokens=${asked} is greater than the model's context length of ${contextLength} tokens (prompt and completion together); request fewer output tokens.`,
    param: 'max_tokens',
    code: 'context_length_exceeded',
  };
}

/**
 * The fit for a failover attempt on another node: fitted to that node's context, and never more output
 * than admission reserved for (a node with a larger context than the first one gets the reserved bound
 * as its max_tokens, so settlement stays within the reservation).
 */
export function refitMaxTokens(input: FitInput, reservedOutput: number): Fit {
  const fit = fitMaxTokens(input);
  if (fit.outputBound <= reservedOutput || reservedOutput < 1) return fit;
  return { send: reservedOutput, outputBound: reservedOutput };
}

/**
 * The request as admission fitted it: Genie's default max_tokens replaced (a number) or left out (null);
 * `undefined` leaves it as it is.
 */
export function fittedRequest(request: NodeRequest, maxTokens: number | null | undefined): NodeRequest {
  if (maxTokens === undefined) return request;
  const { max_tokens: _default, ...rest } = request;
  return maxTokens === null ? rest : { ...rest, max_tokens: maxTokens };
}
