import { heartbeat } from '@temporalio/activity';
import type { Logger } from 'pino';
import { batchInputLineSchema, type BatchError } from '../../protocol/batch.js';
import type { ChatCompletionRequest } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import { MAX_BATCH_LINES } from '../../protocol/files.js';
import { firstIssue, validateChatRequest } from '../../api/middleware/validate.js';
import type { BatchStore } from '../../db/batches.js';
import type { FileStore } from '../../db/file-store.js';
import { activityLog } from '../log.js';

/** Errors listed on a failed batch, at most (the first ones, in line order). */
const MAX_REPORTED_ERRORS = 100;
const INSERT_CHUNK = 500;

type Line = { idx: number; custom_id: string; body: ChatCompletionRequest };

/**
 * Reads the input file line by line: each must be OpenAI's `{custom_id, method, url, body}` with a
 * chat completion body Genie would accept from POST /v1/chat/completions, and custom ids must be unique.
 * Any problem fails the whole batch, every problem named with its 1-based line number (the first 100);
 * nothing is dropped. Valid batches have their lines stored (idempotently) for the line workflows.
 */
export function createValidateBatch(deps: { batches: BatchStore; files: FileStore }) {
  return async function validateBatch(input: { batchId: string }): Promise<{ total: number; errors: BatchError[] }> {
    const owner = await deps.batches.owner(input.batchId);
    const content = owner && (await deps.files.content(owner.orgId, owner.inputFileId));
    if (!owner || !content) return { total: 0, errors: [{ code: 'file_not_found', message: 'The input file no longer exists.', param: 'input_file_id', line: null }] };
    const { lines, errors } = parseLines(content.toString('utf8'));
    if (errors.length) return { total: 0, errors: errors.slice(0, MAX_REPORTED_ERRORS) };
    for (let i = 0; i < lines.length; i += INSERT_CHUNK) {
      await deps.batches.insertLines(input.batchId, lines.slice(i, i + INSERT_CHUNK));
      heartbeat(i);
    }
    return { total: lines.length, errors: [] };
  };
}

/** Caller-controlled unknown body keys are ignored as on POST /v1/chat/completions; the log line says which. */
const lineLog = { warn: (obj: object, msg: string) => activityLog().warn(msg, obj as Record<string, unknown>) } as unknown as Logger;

export function parseLines(text: string): { lines: Line[]; errors: BatchError[] } {
  const raw = text.split('\n');
  if (raw.at(-1) === '') raw.pop(); // the newline that ends the last line
  const errors: BatchError[] = [];
  const lines: Line[] = [];
  const seen = new Map<string, number>();
  const fail = (line: number, code: string, message: string, param: string | null = null) => errors.push({ code, message, param, line });
  if (raw.length === 0) errors.push({ code: 'empty_file', message: 'The input file has no lines.', param: 'input_file_id', line: null });
  if (raw.length > MAX_BATCH_LINES) {
    errors.push({ code: 'too_many_requests', message: `A batch has at most ${MAX_BATCH_LINES} lines; this file has ${raw.length}.`, param: 'input_file_id', line: null });
    return { lines, errors };
  }
  raw.forEach((text, i) => {
    const n = i + 1;
    if (errors.length >= MAX_REPORTED_ERRORS) return;
    let json: unknown;
    try {
      json = JSON.parse(text.replace(/\r$/, ''));
    } catch (e) {
      return fail(n, 'invalid_json_line', `Line ${n} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof json === 'object' && json !== null && !Array.isArray(json) && (json as { body?: unknown }).body === undefined) {
      return fail(n, 'missing_required_parameter', `Line ${n} has no body.`, 'body');
    }
    const parsed = batchInputLineSchema.safeParse(json);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error).body;
      const code = issue.param === 'url' ? 'invalid_url' : issue.param === 'method' ? 'invalid_method' : 'invalid_request';
      return fail(n, code, `Line ${n}: ${issue.message}`, issue.param);
    }
    const first = seen.get(parsed.data.custom_id);
    if (first !== undefined) return fail(n, 'duplicate_custom_id', `Line ${n} repeats the custom_id of line ${first}: custom ids must be unique.`, 'custom_id');
    seen.set(parsed.data.custom_id, n);
    try {
      const body = validateChatRequest(parsed.data.body, lineLog);
      // Each line runs as an async completion, its answer going to the output file.
      if (body.stream === true || (body.mode && body.mode !== 'async')) throw GenieError.badRequest('batch lines run as async completions: stream and mode sync/stream are not allowed', body.stream ? 'stream' : 'mode');
      if (body.webhook) throw GenieError.badRequest('batch lines take no webhook of their own: the batch has one', 'webhook');
      lines.push({ idx: i, custom_id: parsed.data.custom_id, body });
    } catch (e) {
      if (!(e instanceof GenieError)) throw e;
      fail(n, e.body.code ?? 'invalid_request', `Line ${n}: ${e.body.message}`, e.body.param ? `body.${e.body.param}` : 'body');
    }
  });
  return { lines, errors };
}
