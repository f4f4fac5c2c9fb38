import { z } from 'zod';
import { chatCompletionSchema } from './chat-response.js';
import { completionStatusSchema } from './completion-job.js';

// Async jobs on the wire (DESIGN §3a): the 202 answer, the polled job, its webhook delivery state.

export const asyncAcceptedSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.async'),
  status: z.literal('queued'),
  poll_url: z.string(),
  created: z.number().int(),
});
export type AsyncAccepted = z.infer<typeof asyncAcceptedSchema>;

export const webhookStateSchema = z.object({
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int().nonnegative(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
});
export type WebhookState = z.infer<typeof webhookStateSchema>;

export const jobErrorSchema = z.object({
  message: z.string(),
  type: z.string(),
  param: z.string().nullable(),
  code: z.string().nullable(),
  /** The HTTP status a sync caller would have received. */
  status: z.number().int(),
});

export const jobViewSchema = z.object({
  id: z.string(),
  object: z.literal('chat.completion.job'),
  status: completionStatusSchema,
  created: z.number().int(),
  model: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
  result: chatCompletionSchema.optional(),
  error: jobErrorSchema.optional(),
  webhook: webhookStateSchema.optional(),
});
export type JobView = z.infer<typeof jobViewSchema>;
