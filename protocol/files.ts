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

/** The `purpose` field of an upload: only batch inputs are uploaded (outputs are Genie's). */
export const uploadFieldsSchema = z.object({ purpose: z.literal('batch', { error: "purpose must be 'batch' (the only purpose Genie stores)" }) });

export const listFilesQuerySchema = z.object({
  purpose: filePurposeSchema.optional(),
  after: storedText().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  order: z.enum(['asc', 'desc']).default('desc'),
});
export type ListFilesQuery = z.infer<typeof listFilesQuerySchema>;

export const fileParamsSchema = z.object({ fileId: storedText().max(128) });
