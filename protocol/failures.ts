import { ActivityFailure, ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import type { Usage } from './chat-response.js';
import type { GenieErrorBody } from './errors.js';

// How failures cross the Temporal boundary, in one place: activities build them with `failures.*`, the
// workflow and the API read them back with `readFailure` / `errorBodyOf`. Safe in workflow code (no I/O,
// no zod at run time): the workflow bundle imports this file.

export const FAILURE_TYPES = {
  /** A caller-facing error (`GenieErrorBody`), e.g. a 402 at admission or a node's own error. */
  genie: 'GenieError',
  /** The caller left or the completion was cancelled while `generate` ran: what it produced is still owed. */
  aborted: 'GenerationAborted',
  /** The process running `generate` shut down past its grace period: not the caller's fault, nor the node's. */
  shutdown: 'WorkerShutdown',
  /** Postgres (or another dependency) could not be reached: retried by the step's policy, then a 503. */
  unavailable: 'DependencyUnavailable',
} as const;

/** A node's failure, as the workflow's failover loop reads it. */
export interface NodeFailure {
  /** Another node may succeed (and no token reached the caller yet). */
  failover: boolean;
  /** The node itself did not answer (refused, reset, timed out): suspect for every model, not just this request. */
  suspect: boolean;
}

/** When the same request could pass later, as the refusing step knows it. */
export interface RetryHint {
  /** A budget refusal that the same request would pass once its cap's window resets then. */
  retryAt?: string | null;
  /** No node can take it right now, but one that may come back (down, draining) serves the model. */
  nodesMayReturn?: boolean;
}

export const failures = {
  genie(body: GenieErrorBody, node: NodeFailure | null = null, hint: RetryHint | null = null): ApplicationFailure {
    const hinted = hint && (hint.retryAt || hint.nodesMayReturn);
    return ApplicationFailure.create({ type: FAILURE_TYPES.genie, message: body.message, nonRetryable: true, details: hinted ? [body, node, hint] : node ? [body, node] : [body] });
  },
  aborted(usage: Usage): ApplicationFailure {
    return ApplicationFailure.create({ type: FAILURE_TYPES.aborted, message: 'generation aborted', nonRetryable: true, details: [{ usage }] });
  },
  shutdown(usage: Usage, body: GenieErrorBody): ApplicationFailure {
    return ApplicationFailure.create({ type: FAILURE_TYPES.shutdown, message: body.message, nonRetryable: true, details: [{ usage, body }] });
  },
  /** Retryable: the dependency may be back by the next attempt; once attempts run out, `body` is the answer. */
  unavailable(body: GenieErrorBody): ApplicationFailure {
    return ApplicationFailure.create({ type: FAILURE_TYPES.unavailable, message: body.message, nonRetryable: false, details: [body] });
  },
};

/**
 * A failure carried as a value, by a step that must also return what it did before failing (`serveHere`:
 * what it admitted). `fromFailureValue` gives back the ApplicationFailure, which `readFailure` reads as
 * it reads the thrown one; anything else thrown becomes an unclassified failure (a 500).
 */
export interface FailureValue {
  type: string;
  message: string;
  nonRetryable: boolean;
  details: unknown[];
}

export function toFailureValue(e: unknown): FailureValue {
  const cause = causeOf(e);
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message, nonRetryable: cause.nonRetryable ?? false, details: (cause.details ?? []) as unknown[] };
  return { type: 'Error', message: (cause as Error)?.message ?? String(cause), nonRetryable: true, details: [] };
}

export function fromFailureValue(v: FailureValue): ApplicationFailure {
  return ApplicationFailure.create({ type: v.type, message: v.message, nonRetryable: v.nonRetryable, details: v.details });
}

export type ReadFailure =
  | { kind: 'genie'; body: GenieErrorBody; node: NodeFailure | null; retryAt: string | null; nodesMayReturn: boolean }
  | { kind: 'aborted'; usage: Usage }
  | { kind: 'shutdown'; usage: Usage; body: GenieErrorBody }
  | { kind: 'cancelled' }
  | { kind: 'terminated' }
  | { kind: 'timeout' }
  | { kind: 'other' };

const ZERO: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

/** The failure an activity failure wraps (what its activity threw), or `e` itself. */
function causeOf(e: unknown): unknown {
  return e instanceof ActivityFailure && e.cause ? e.cause : e;
}

/** What a failure means, whatever wrapped it (an activity failure, a workflow failure's cause). */
export function readFailure(e: unknown): ReadFailure {
  const cause = causeOf(e);
  if (cause instanceof ApplicationFailure) {
    const [first, second, third] = (cause.details ?? []) as unknown[];
    if ((cause.type === FAILURE_TYPES.genie || cause.type === FAILURE_TYPES.unavailable) && isBody(first)) {
      const hint = third as RetryHint | undefined;
      return { kind: 'genie', body: first, node: (second as NodeFailure | undefined) ?? null, retryAt: hint?.retryAt ?? null, nodesMayReturn: hint?.nodesMayReturn === true };
    }
    if (cause.type === FAILURE_TYPES.aborted) return { kind: 'aborted', usage: (first as { usage?: Usage } | undefined)?.usage ?? ZERO };
    if (cause.type === FAILURE_TYPES.shutdown) {
      const d = first as { usage?: Usage; body?: GenieErrorBody } | undefined;
      return { kind: 'shutdown', usage: d?.usage ?? ZERO, body: d?.body ?? SHUTTING_DOWN };
    }
  }
  if (cause instanceof CancelledFailure) return { kind: 'cancelled' };
  if (cause instanceof TerminatedFailure) return { kind: 'terminated' };
  if (cause instanceof TimeoutFailure) return { kind: 'timeout' };
  return { kind: 'other' };
}

/** When a budget refusal would pass, once its cap's window resets; null for every other failure. */
export function retryAtOf(e: unknown): string | null {
  const f = readFailure(e);
  return f.kind === 'genie' ? f.retryAt : null;
}

export const SHUTTING_DOWN: GenieErrorBody = {
  status: 503,
  message: 'this Genie process is shutting down and its grace period ran out; retry the request',
  type: 'service_unavailable',
  code: 'service_unavailable',
  param: null,
  headers: { 'retry-after': '1' },
};

/** A completion that was cancelled (or whose caller left): 499, nginx's "client closed request". */
const CANCELLED: GenieErrorBody = { status: 499, message: 'the completion was cancelled', type: 'invalid_request_error', code: 'cancelled', param: null };

/**
 * The caller-facing error of any failure. Only Genie's own bodies carry text through: anything else
 * (a database error, say) could hold internals, so it becomes a generic body of the right class.
 */
export function errorBodyOf(e: unknown): GenieErrorBody {
  const f = readFailure(e);
  switch (f.kind) {
    case 'genie':
    case 'shutdown':
      return f.body;
    case 'aborted':
    case 'cancelled':
      return CANCELLED;
    case 'terminated':
      return { status: 500, message: 'the completion was terminated by an operator', type: 'server_error', code: null, param: null };
    case 'timeout':
      // A step missed its deadline: its process was lost or overloaded. Honest, and worth a retry.
      return { status: 503, message: 'Genie could not finish this completion in time (a process was lost or overloaded); retry the request', type: 'service_unavailable', code: 'service_unavailable', param: null, headers: { 'retry-after': '1' } };
    case 'other':
      return { status: 500, message: 'internal error', type: 'server_error', code: null, param: null };
  }
}

/** What a caller reads for an error: OpenAI's envelope, with the body's extra fields (the seed's 402 fields) at top level. */
export function errorEnvelopeOf(body: GenieErrorBody): Record<string, unknown> {
  const { message, type, param, code, extra } = body;
  return { ...(extra ?? {}), error: { message, type, param, code } };
}

function isBody(x: unknown): x is GenieErrorBody {
  return typeof x === 'object' && x !== null && typeof (x as GenieErrorBody).status === 'number' && typeof (x as GenieErrorBody).message === 'string';
}
