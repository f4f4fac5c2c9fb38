import { z } from 'zod';
import { completionModeSchema, nodeRequestSchema } from './chat-request.js';
import { chatCompletionSchema, finishReasonSchema, usageSchema } from './chat-response.js';
import { principalSchema } from './principal.js';
import { budgetStandingSchema, priceSchema } from './budget.js';
import { nodeRefSchema } from '../activities/nodes/node-list.js';
import type { FailureValue } from './failures.js';

// What flows between the API, the `chatCompletion` workflow and its activities. Workflows import
// these types only (never zod at run time), the API and activities validate with them.

export const completionJobInputSchema = z.object({
  /** `chatcmpl-<jobId>`: the completion id is the workflow id. */
  workflowId: z.string(),
  jobId: z.string(),
  mode: completionModeSchema,
  /** Unix seconds, fixed by the API so the body's `created` is deterministic on replay. */
  created: z.number().int(),
  principal: principalSchema,
  request: nodeRequestSchema,
  /** `request.max_tokens` is Genie's default, not the caller's: admission may fit it to the node's context. */
  defaultMaxTokens: z.boolean().default(false),
  /** Task queue of the `generate` activity: the API process holding the caller for sync/stream. */
  generateQueue: z.string(),
  /** True when `generate` runs in the API process that holds the caller's connection. */
  callerHeld: z.boolean(),
  /**
   * Caller-held: the first attempt admits and generates in one local activity (`serveHere`), in the API
   * holding the caller when its start was eager. Absent in histories from before it, which admit in a
   * step of their own: an input field, not a patch, so a sync completion's history carries no marker.
   */
  serveHere: z.boolean().optional(),
  /**
   * Async: the job's projection is written by its admission, settlement and webhook steps, as the
   * `async-steps-folded` patch decides for jobs started before this field, whose histories record the
   * patch's marker (and a TemporalChangeVersion upsert: two events per job that new jobs no longer carry).
   */
  stepsFolded: z.boolean().optional(),
  /**
   * Async: how long a later attempt waits, with durable timers, for a node that may come back (down or
   * draining) when none is healthy. Absent in histories from before it (and for caller-held completions,
   * whose callers are waiting): those fail at once, as they ran.
   */
  nodeWaitMs: z.number().int().nonnegative().optional(),
  /** The caller asked for the usage chunk (`stream_options.include_usage`). */
  includeUsage: z.boolean(),
  metadata: z.record(z.string(), z.string()).nullable(),
  /** Async webhook target; its secret stays in Postgres, never in workflow history. */
  webhook: z.object({ url: z.string() }).nullable(),
  /** Delays (ms) before each delivery attempt, e.g. 0, 5 s, 5 min, … (GENIE_WEBHOOK_RETRY_SCHEDULE). */
  webhookScheduleMs: z.array(z.number().int().nonnegative()),
  /** sha256 of the canonical request body, when an Idempotency-Key names this workflow. */
  requestHash: z.string().nullable(),
});
export type CompletionJobInput = z.infer<typeof completionJobInputSchema>;

export const generateInputSchema = z.object({
  workflowId: z.string(),
  /** This run's id (workflowInfo().runId): ledger rows and usage belong to one run. */
  runId: z.string(),
  mode: completionModeSchema,
  /** Who is billed: a caller-held `generate` settles before it answers (see `GenerateResult.settled`). */
  principal: principalSchema,
  created: z.number().int(),
  node: nodeRefSchema,
  request: nodeRequestSchema,
  includeUsage: z.boolean(),
  attempt: z.number().int().positive(),
  /** The caller's tightest cap after admission, for the x-genie-budget-* headers. */
  budget: budgetStandingSchema.nullable(),
  /** The price admitted at, for the settlement a caller-held `generate` makes before answering. */
  price: priceSchema.optional(),
  /** What admission reserved: a settlement above it is an overshoot, booked and reported. */
  reservedMicroUsd: z.number().int().optional(),
  /** Keyed stream: keep what was sent (in Postgres) so a retry with the same key can replay it. */
  keepStream: z.boolean().default(false),
});

/** A finished keyed stream: the deltas it sent, its finish reason and usage. */
export const streamRecordSchema = z.object({
  deltas: z.array(z.record(z.string(), z.unknown())),
  finishReason: finishReasonSchema.nullable(),
  usage: usageSchema,
});
export type StreamRecord = z.infer<typeof streamRecordSchema>;
export type GenerateInput = z.infer<typeof generateInputSchema>;

export const generateResultSchema = z.object({
  /** The full body in sync/async mode; null in stream mode, whose tokens never enter history. */
  completion: chatCompletionSchema.nullable(),
  usage: usageSchema,
  finishReason: finishReasonSchema.nullable(),
  ttftMs: z.number().nullable(),
  durationMs: z.number(),
  /**
   * Usage already settled in Postgres by `generate` itself, before the caller had its answer: what a
   * caller received is booked even if the process dies right after answering. The workflow then skips
   * its own settlement step (settlement is idempotent per completion either way).
   */
  settled: z.boolean().default(false),
});
export type GenerateResult = z.infer<typeof generateResultSchema>;


export const completionStatusSchema = z.enum(['queued', 'in_progress', 'completed', 'failed', 'cancelled']);
export type CompletionStatus = z.infer<typeof completionStatusSchema>;

export const completionJobOutputSchema = z.object({
  status: completionStatusSchema,
  completion: chatCompletionSchema.nullable(),
  usage: usageSchema,
  node: z.string().nullable(),
});
export type CompletionJobOutput = z.infer<typeof completionJobOutputSchema>;

export const admitInputSchema = z.object({
  workflowId: z.string(),
  /** This run's id (workflowInfo().runId): ledger rows and usage belong to one run. */
  runId: z.string(),
  principal: principalSchema,
  request: nodeRequestSchema,
  mode: completionModeSchema,
  defaultMaxTokens: z.boolean().default(false),
});
export type AdmitInput = z.infer<typeof admitInputSchema>;
export const admitResultSchema = z.object({
  reservedMicroUsd: z.number().int(),
  /** The model's price at admission: the reservation's, and the one settlement books at. */
  price: priceSchema,
  budget: budgetStandingSchema.nullable(),
  /** The first node to try; failover attempts select again. */
  node: nodeRefSchema,
  /**
   * Genie's default max_tokens fitted to the node's context: a number to send instead, null to send
   * none (the engine then allows what the context leaves); absent when the request goes as it is.
   */
  maxTokens: z.number().int().positive().nullable().optional(),
  /**
   * What the reservation was made for: the output the first node was allowed and the prompt's bound. A
   * failover attempt re-fits max_tokens to its node within that output (absent in older histories).
   */
  fit: z.object({ outputBound: z.number().int().nonnegative(), promptBound: z.number().int().nonnegative() }).optional(),
  /** Why that node: every candidate's load score and the two compared (kept in history for ops). */
  placement: z.object({ scores: z.record(z.string(), z.number()), compared: z.array(z.string()) }),
});
export type AdmitResult = z.infer<typeof admitResultSchema>;
/**
 * `serveHere`'s input: the admission, and what the first attempt's `generate` takes besides what
 * admission decides (the node, the fitted request, the budget, the price and the reservation).
 */
export interface ServeHereInput {
  admit: AdmitInput;
  generate: Omit<GenerateInput, 'node' | 'request' | 'budget' | 'price' | 'reservedMicroUsd'>;
}
/**
 * What `serveHere` did. `admitted` null: nothing — the caller is not held here (`notHere`), or admission
 * met an error worth retrying — so the workflow admits in a step of its own. Otherwise admitted, and
 * then either generated (`generated` null: the caller left before its turn) or failed: a value, not a
 * throw, since the workflow needs what was admitted to settle it.
 */
export type ServeHereResult = { admitted: null; notHere?: true } | { admitted: AdmitResult; generated: GenerateResult | null; failure?: FailureValue };
export const admissionSchema = z.object({ requestHash: z.string().nullable(), budget: budgetStandingSchema.nullable() });
export type Admission = z.infer<typeof admissionSchema>;

export const settleUsageInputSchema = z.object({
  workflowId: z.string(),
  /** This run's id (workflowInfo().runId): ledger rows and usage belong to one run. */
  runId: z.string(),
  mode: completionModeSchema,
  principal: principalSchema,
  model: z.string(),
  node: z.string().nullable(),
  usage: usageSchema,
  outcome: completionStatusSchema,
  /** The price the completion was admitted at (its reservation's), so settlement needs no lookup. */
  price: priceSchema.optional(),
  /** What admission reserved for it (absent for a completion refused before its reservation). */
  reservedMicroUsd: z.number().int().optional(),
});
export type SettleUsageInput = z.infer<typeof settleUsageInputSchema>;
