import { z } from 'zod';
import { storedText } from './stored-text.js';
import { listPageSchema } from './list-page.js';

// The Files API on the wire (OpenAI's shapes, as the official SDKs parse them). Genie stores batch
// inputs and the output / error files its batches write; nothing else.

/** The largest file Genie accepts (OpenAI's batch input limit), and the most lines a batch may have. */
export const MAX_FILE_BYTES = 200 * 1024 * 1024;
export const MAX_BATCH_LINES = 50_000;

export const filePurposeSchema = z.enum(['batch', 'batch_output']);
export type FilePurpose = z.infer<typeof filePurposeSchema>;

export const fileObjectSchema = z.object({
  id: z.string(),
  object: z.literal('file'),
  bytes: z.number().int().nonnegative(),
  /** Unix seconds. */
  created_at: z.number().int(),
  filename: z.string(),
  purpose: filePurposeSchema,
  /** Files are usable as soon as the upload answered. */
  status: z.literal('processed'),
  expires_at: z.number().int().nullable(),
  status_details: z.string().nullable(),
});
export type FileObject = z.infer<typeof fileObjectSchema>;

export const fileListSchema = listPageSchema(fileObjectSchema);

export const fileDeletedSchema = z.object({ id: z.string(), object: z.literal('file'), deleted: z.literal(true) });

/** OpenAI's bounds on a file's lifetime (`expires_after.seconds`): an hour to 30 days. */
export const MIN_EXPIRES_AFTER_SECONDS = 3600;
export const MAX_EXPIRES_AFTER_SECONDS = 2_592_000;
/** Batch output and error files expire this long after they are written unless the batch says otherwise (OpenAI's 30 days). */
export const DEFAULT_OUTPUT_EXPIRES_AFTER_SECONDS = MAX_EXPIRES_AFTER_SECONDS;

const expiresAfterSeconds = z.coerce
  .number({ error: 'expires_after.seconds must be a number of seconds' })
  .int()
  .min(MIN_EXPIRES_AFTER_SECONDS, `expires_after.seconds must be at least ${MIN_EXPIRES_AFTER_SECONDS} (an hour)`)
  .max(MAX_EXPIRES_AFTER_SECONDS, `expires_after.seconds must be at most ${MAX_EXPIRES_AFTER_SECONDS} (30 days)`);
const expiresAfterAnchor = z.literal('created_at', { error: "expires_after.anchor must be 'created_at'" });

/** OpenAI's `expires_after` (a file's) and `output_expires_after` (a batch's output and error files). */
export const expiresAfterSchema = z.object({ anchor: expiresAfterAnchor, seconds: expiresAfterSeconds });

/**
 * The text fields of an upload: `purpose` (only batch inputs are uploaded; outputs are Genie's) and
 * OpenAI's optional `expires_after`, which multipart spells `expires_after[anchor]` / `expires_after[seconds]`.
 * Without it an uploaded file lives until it is deleted.
 */
export const uploadFieldsSchema = z
  .object({
    purpose: z.literal('batch', { error: "purpose must be 'batch' (the only purpose Genie stores)" }),
    'expires_after[anchor]': expiresAfterAnchor.optional(),
    'expires_after[seconds]': expiresAfterSeconds.optional(),
  })
  .superRefine((f, ctx) => {
    const anchor = f['expires_after[anchor]'] !== undefined;
    const seconds = f['expires_after[seconds]'] !== undefined;
    if (anchor !== seconds) ctx.addIssue({ code: 'custom', message: 'expires_after needs both anchor and seconds', path: [anchor ? 'expires_after[seconds]' : 'expires_after[anchor]'] });
  });

export const listFilesQuerySchema = z.object({
  purpose: filePurposeSchema.optional(),
  after: storedText().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  order: z.enum(['asc', 'desc']).default('desc'),
});
export type ListFilesQuery = z.infer<typeof listFilesQuerySchema>;

export const fileParamsSchema = z.object({ fileId: storedText().max(128) });
