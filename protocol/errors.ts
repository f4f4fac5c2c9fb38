import { z } from 'zod';
import { capLayerSchema, capWindowSchema } from './budget.js';
import { formatBytes, MAX_REQUEST_BODY_BYTES } from './request-limits.js';
import { errorEnvelopeOf } from './failures.js';

// One error vocabulary for every layer (DESIGN §3a). Activities and workflows carry a `GenieErrorBody`
// in ApplicationFailure details (protocol/failures.ts); the API's one error mapper turns it into HTTP.

export const errorTypeSchema = z.enum([
  'invalid_request_error',
  'insufficient_quota',
  'rate_limit_exceeded',
  'server_error',
  'service_unavailable',
]);

export const genieErrorBodySchema = z.object({
  status: z.number().int().min(400).max(599),
  message: z.string(),
  type: errorTypeSchema,
  code: z.string().nullable(),
  param: z.string().nullable(),
  /** Extra top-level response fields (the seed's 402 fields). */
  extra: z.record(z.string(), z.unknown()).optional(),
  headers: z.record(z.string(), z.string()).optional(),
});
export type GenieErrorBody = z.infer<typeof genieErrorBodySchema>;

/** OpenAI's error envelope, as every OpenAI SDK parses it. */
export const errorEnvelopeSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

/**
 * The 402 body (DESIGN §3): the seed's fields at top level next to OpenAI's envelope. Layer and window
 * are plain strings here (not budget.ts's enums) so this file stays free of other protocol imports.
 */
export const budgetCapHitBodySchema = errorEnvelopeSchema.extend({
  code: z.literal('budget-cap-hit'),
  capLayer: capLayerSchema,
  capWindow: capWindowSchema,
  resetsAt: z.iso.datetime(),
});
export type BudgetCapHitBody = z.infer<typeof budgetCapHitBodySchema>;

export class GenieError extends Error {
  constructor(readonly body: GenieErrorBody) {
    super(body.message);
    this.name = 'GenieError';
  }

  static badRequest(message: string, param: string | null = null, code: string | null = null): GenieError {
    return new GenieError({ status: 400, message, type: 'invalid_request_error', code, param });
  }
  /** A body no workflow could carry (protocol/request-limits.ts): refused before anything starts. */
  static requestTooLarge(limit = MAX_REQUEST_BODY_BYTES): GenieError {
    return new GenieError({ status: 413, message: `The request body is larger than ${formatBytes(limit)} (${limit} bytes), the most a completion can carry.`, type: 'invalid_request_error', code: 'request_too_large', param: null });
  }
  static unauthorized(message: string): GenieError {
    return new GenieError({ status: 401, message, type: 'invalid_request_error', code: 'invalid_api_key', param: null });
  }
  static modelNotFound(model: string): GenieError {
    return new GenieError({
      status: 404,
      message: `The model \`${model}\` does not exist or is not served by any healthy node.`,
      type: 'invalid_request_error',
      code: 'model_not_found',
      param: 'model',
    });
  }
  static notFound(message: string): GenieError {
    return new GenieError({ status: 404, message, type: 'invalid_request_error', code: 'not_found', param: null });
  }
  /** Unknown job ids and other orgs' jobs look the same: nothing tells a caller that an id exists. */
  static jobNotFound(jobId: string): GenieError {
    return GenieError.notFound(`No job found with id '${jobId}'.`);
  }
  static idempotencyKeyReused(): GenieError {
    return new GenieError({ status: 409, message: 'This Idempotency-Key was already used with a different request body.', type: 'invalid_request_error', code: 'idempotency_key_reused', param: null });
  }
  static idempotencyKeyInUse(): GenieError {
    return new GenieError({ status: 409, message: 'A stream with this Idempotency-Key is still running.', type: 'invalid_request_error', code: 'idempotency_key_in_use', param: null });
  }
  /** The seed's 402: its fields at top level and OpenAI's envelope, so both kinds of readers understand it. */
  static budgetCapHit(capLayer: string, capWindow: string, resetsAt: string, now = Date.now()): GenieError {
    const retryAfter = Math.max(1, Math.ceil((Date.parse(resetsAt) - now) / 1000));
    return new GenieError({
      status: 402,
      message: `Budget cap hit: this request would exceed the ${capLayer} ${capWindow} cap, which resets at ${resetsAt}.`,
      type: 'insufficient_quota',
      code: 'budget-cap-hit',
      param: null,
      extra: { code: 'budget-cap-hit', capLayer, capWindow, resetsAt },
      headers: { 'retry-after': String(retryAfter) },
    });
  }
  static saturated(model: string, retryAfterSeconds: number): GenieError {
    return new GenieError({
      status: 429,
      message: `Every node serving ${model} is saturated; retry shortly (async jobs queue instead).`,
      type: 'rate_limit_exceeded',
      code: 'rate_limit_exceeded',
      param: null,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
  static upstream(status: number, message: string): GenieError {
    // The node's own status and message pass through (DESIGN §3a); non-5xx node answers are our fault.
    const s = status >= 500 && status <= 599 ? status : 500;
    return new GenieError({ status: s, message, type: 'server_error', code: null, param: null });
  }
  static unavailable(message: string, retryAfterSeconds = 1): GenieError {
    return new GenieError({
      status: 503,
      message,
      type: 'service_unavailable',
      code: 'service_unavailable',
      param: null,
      headers: { 'retry-after': String(retryAfterSeconds) },
    });
  }
  static internal(message = 'internal server error'): GenieError {
    return new GenieError({ status: 500, message, type: 'server_error', code: null, param: null });
  }

  toEnvelope(): Record<string, unknown> {
    return errorEnvelopeOf(this.body);
  }
}
