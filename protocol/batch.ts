import { z } from 'zod';
import { storedText, storedUrl } from './stored-text.js';
import { principalSchema } from './principal.js';
import { listPageSchema } from './list-page.js';
import { expiresAfterSchema } from './files.js';

// The Batch API on the wire (OpenAI's shapes, as the official SDKs parse them), and what flows between
// the API, the `batchRun` / `batchLine` workflows and their activities.

export const BATCH_ENDPOINT = '/v1/chat/completions';

export const createBatchSchema = z.object({
  input_file_id: storedText().min(1).max(128),
  endpoint: z.literal(BATCH_ENDPOINT, { error: `endpoint must be '${BATCH_ENDPOINT}' (the only one Genie serves)` }),
  completion_window: z.literal('24h', { error: "completion_window must be '24h'" }),
  metadata: z
    .record(storedText().max(64), storedText().max(512))
    .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata keys')
    .nullable()
    .optional(),
  /** OpenAI's: when the output and error files expire (30 days after they are written by default). */
  output_expires_after: expiresAfterSchema.optional(),
  /** Genie's extension: the final batch object is POSTed here, signed as async jobs' webhooks are. */
  webhook: z.object({ url: storedUrl('webhook.url must be an http(s) URL'), secret: storedText().min(8).max(256) }).optional(),
});
export type CreateBatch = z.infer<typeof createBatchSchema>;

export const batchStatusSchema = z.enum(['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled']);
export type BatchStatus = z.infer<typeof batchStatusSchema>;
export const TERMINAL_BATCH_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

/** One problem of the input file, with its 1-based line number (null for the file as a whole). */
export const batchErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  param: z.string().nullable(),
  line: z.number().int().positive().nullable(),
});
export type BatchError = z.infer<typeof batchErrorSchema>;

export const batchWebhookStateSchema = z.object({
  url: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().nonnegative(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
});

const unixOrNull = z.number().int().nullable();
export const batchSchema = z.object({
  id: z.string(),
  object: z.literal('batch'),
  endpoint: z.string(),
  errors: z.object({ object: z.literal('list'), data: z.array(batchErrorSchema) }).nullable(),
  input_file_id: z.string(),
  completion_window: z.string(),
  status: batchStatusSchema,
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  created_at: z.number().int(),
  in_progress_at: unixOrNull,
  expires_at: unixOrNull,
  finalizing_at: unixOrNull,
  completed_at: unixOrNull,
  failed_at: unixOrNull,
  expired_at: unixOrNull,
  cancelling_at: unixOrNull,
  cancelled_at: unixOrNull,
  /** Live while the batch runs: every line counts once, when its result is recorded. */
  request_counts: z.object({ total: z.number().int(), completed: z.number().int(), failed: z.number().int() }),
  metadata: z.record(z.string(), z.string()).nullable(),
  /** Genie's extension: the delivery state of the batch's webhook (never its secret). */
  webhook: batchWebhookStateSchema.nullable().optional(),
});
export type Batch = z.infer<typeof batchSchema>;

export const batchListSchema = listPageSchema(batchSchema);

export const listBatchesQuerySchema = z.object({
  after: storedText().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
});
export const batchParamsSchema = z.object({ batchId: storedText().max(128) });

/** One line of an input file (OpenAI's shape); `body` is a chat completion request, validated separately. */
export const batchInputLineSchema = z.object({
  custom_id: storedText().min(1).max(512),
  method: z.literal('POST', { error: "method must be 'POST'" }),
  url: z.literal(BATCH_ENDPOINT, { error: `url must be '${BATCH_ENDPOINT}'` }),
  body: z.record(z.string(), z.unknown()),
});

/** One line of the output or error file (OpenAI's shape). */
export const batchOutputLineSchema = z.object({
  id: z.string(),
  custom_id: z.string(),
  response: z.object({ status_code: z.number().int(), request_id: z.string(), body: z.record(z.string(), z.unknown()) }).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});
export type BatchOutputLine = z.infer<typeof batchOutputLineSchema>;
export type LineResponse = NonNullable<BatchOutputLine['response']>;

// ─── workflow inputs ─────────────────────────────────────────────────────────

/** Where a run of `batchRun` picks up (carried across continue-as-new). */
export const batchCursorSchema = z.object({
  phase: z.enum(['validating', 'in_progress']),
  /** Index (0-based) of the next line to start; every line before it has finished. */
  nextLine: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  cancelRequested: z.boolean(),
  runs: z.number().int().nonnegative(),
});
export type BatchCursor = z.infer<typeof batchCursorSchema>;

export const batchRunInputSchema = z.object({
  batchId: z.string(),
  principal: principalSchema,
  /** Unix ms: lines not started by then are not started (status `expired`). */
  expiresAtMs: z.number().int(),
  /** Lines of this batch running at once, at most (GENIE_BATCH_CONCURRENCY). */
  concurrency: z.number().int().positive(),
  /** Lines of one org's batches running at once, at most (GENIE_BATCH_ORG_CONCURRENCY), shared among them. */
  orgConcurrency: z.number().int().positive(),
  /** Lines a run starts before it continues as new (GENIE_BATCH_LINES_PER_RUN): bounds its history. */
  linesPerRun: z.number().int().positive(),
  /** The workers' queue (`genie-inference`): validation and the output files run there, off the workflow task. */
  activityQueue: z.string(),
  webhook: z.object({ url: z.string() }).nullable(),
  webhookScheduleMs: z.array(z.number().int().nonnegative()),
  cursor: batchCursorSchema.optional(),
});
export type BatchRunInput = z.infer<typeof batchRunInputSchema>;

export const batchLineInputSchema = z.object({
  batchId: z.string(),
  line: z.number().int().nonnegative(),
  jobId: z.string(),
  /** The batch's `expiresAtMs`: a line refused by a cap that resets before then waits for the reset. */
  deadlineMs: z.number().int().optional(),
  /** How many times this line already waited for a cap's reset (its runs before this one). */
  deferrals: z.number().int().nonnegative().optional(),
});
export type BatchLineInput = z.infer<typeof batchLineInputSchema>;
export type LineOutcome = 'completed' | 'failed';
