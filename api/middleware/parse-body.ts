import type { z } from 'zod';
import { firstIssue } from '../../protocol/validate-chat-request.js';

/** Parses a body (or query) with its zod schema; the first issue becomes a 400 naming the param. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value ?? {});
  if (!parsed.success) throw firstIssue(parsed.error);
  return parsed.data;
}
