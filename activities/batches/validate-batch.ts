import { StringDecoder } from 'node:string_decoder';
import { heartbeat } from '@temporalio/activity';
import type { Logger } from 'pino';
import { batchInputLineSchema, type BatchError } from '../../protocol/batch.js';
import type { ChatCompletionRequest } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import { MAX_BATCH_LINES } from '../../protocol/files.js';
import { MAX_REQUEST_BODY_BYTES } from '../../protocol/request-limits.js';
import { firstIssue, validateChatRequest } from '../../protocol/validate-chat-request.js';
import type { BatchStore } from '../../db/batches.js';
import type { FileStore } from '../../db/file-store.js';
import { activityLog } from '../log.js';

/** Errors listed on a failed batch, at most (the first ones, in line order). */
const MAX_REPORTED_ERRORS = 100;
const INSERT_CHUNK = 500;

type Line = { idx: number; custom_id: string; body: ChatCompletionRequest };

/**
 * Reads the input file line by line, as it streams out of the store (never whole): each must be
 * OpenAI's `{custom_id, method, url, body}` with a chat completion body Genie would accept from
 * POST /v1/chat/completions, and custom ids must be unique. Any problem fails the whole batch, every
 * problem named with its 1-based line number (the first 100); nothing is dropped. Valid lines are stored
 * (idempotently) for the line workflows as they are read, a few hundred per statement; a batch that
 * fails has the ones stored removed again.
 */
export function createValidateBatch(deps: { batches: BatchStore; files: FileStore }) {
  return async function validateBatch(input: { batchId: string }): Promise<{ total: number; errors: BatchError[] }> {
    const owner = await deps.batches.owner(input.batchId);
    const content = owner && (await deps.files.content(owner.orgId, owner.inputFileId));
    if (!owner || !content) return { total: 0, errors: [{ code: 'file_not_found', message: 'The input file no longer exists.', param: 'input_file_id', line: null }] };
    const checker = new LineChecker();
    let pending: Line[] = [];
    let stored = 0;
    const flush = async () => {
      if (checker.errors.length === 0 && pending.length) await deps.batches.insertLines(input.batchId, pending);
      stored += pending.length;
      pending = [];
      heartbeat(stored);
    };
    for await (const text of splitLines(content.chunks, MAX_LINE_BYTES)) {
      const line = checker.push(text);
      if (checker.done) break;
      if (line) pending.push(line);
      if (pending.length >= INSERT_CHUNK) await flush();
    }
    const errors = checker.finish();
    if (errors.length) {
      await deps.batches.deleteLines(input.batchId);
      return { total: 0, errors };
    }
    await flush();
    return { total: checker.count, errors: [] };
  };
}

/** A line longer than this cannot hold a valid request (the body limit, plus room for the line's other keys). */
const MAX_LINE_BYTES = MAX_REQUEST_BODY_BYTES + 64 * 1024;

/**
 * The lines of a UTF-8 stream (a multi-byte character may straddle two chunks), without their `\n`; the
 * newline ending the last line makes no empty line after it. A line longer than `maxBytes` is not
 * accumulated: it is yielded as `null` (reported as too long) and skipped to its end.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, maxBytes: number): AsyncGenerator<string | null> {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  let tooLong = false;
  for await (const chunk of chunks) {
    const parts = (partial + decoder.write(chunk)).split('\n');
    partial = parts.pop()!;
    for (const p of parts) {
      yield tooLong ? null : p;
      tooLong = false;
    }
    if (Buffer.byteLength(partial) > maxBytes) {
      tooLong = true;
      partial = '';
    }
  }
  partial += decoder.end();
  if (tooLong) yield null;
  else if (partial !== '') yield partial;
}

/** Caller-controlled unknown body keys are ignored as on POST /v1/chat/completions; the log line says which. */
const lineLog = { warn: (obj: object, msg: string) => activityLog().warn(msg, obj as Record<string, unknown>) } as unknown as Logger;

/** Checks one line after another (line numbers count from 1), keeping only the custom ids seen and the errors. */
export class LineChecker {
  readonly errors: BatchError[] = [];
  count = 0;
  /** Nothing more to learn: the batch fails whatever the rest holds (too many lines, or 100 errors). */
  done = false;
  private readonly seen = new Map<string, number>();

  private fail(line: number, code: string, message: string, param: string | null = null): null {
    this.errors.push({ code, message, param, line });
    if (this.errors.length >= MAX_REPORTED_ERRORS) this.done = true;
    return null;
  }

  push(text: string | null): Line | null {
    const n = ++this.count;
    if (n > MAX_BATCH_LINES) {
      this.errors.splice(0, this.errors.length, { code: 'too_many_requests', message: `A batch has at most ${MAX_BATCH_LINES} lines; this file has more.`, param: 'input_file_id', line: null });
      this.done = true;
      return null;
    }
    if (text === null) return this.fail(n, 'line_too_long', `Line ${n} is longer than ${MAX_LINE_BYTES} bytes, more than any request may be.`);
    let json: unknown;
    try {
      json = JSON.parse(text.replace(/\r$/, ''));
    } catch (e) {
      return this.fail(n, 'invalid_json_line', `Line ${n} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof json === 'object' && json !== null && !Array.isArray(json) && (json as { body?: unknown }).body === undefined) {
      return this.fail(n, 'missing_required_parameter', `Line ${n} has no body.`, 'body');
    }
    const parsed = batchInputLineSchema.safeParse(json);
    if (!parsed.success) {
      const issue = firstIssue(parsed.error).body;
      const code = issue.param === 'url' ? 'invalid_url' : issue.param === 'method' ? 'invalid_method' : 'invalid_request';
      return this.fail(n, code, `Line ${n}: ${issue.message}`, issue.param);
    }
    const first = this.seen.get(parsed.data.custom_id);
    if (first !== undefined) return this.fail(n, 'duplicate_custom_id', `Line ${n} repeats the custom_id of line ${first}: custom ids must be unique.`, 'custom_id');
    this.seen.set(parsed.data.custom_id, n);
    try {
      const body = validateChatRequest(parsed.data.body, lineLog);
      // Each line runs as an async completion, its answer going to the output file.
      if (body.stream === true || (body.mode && body.mode !== 'async')) throw GenieError.badRequest('batch lines run as async completions: stream and mode sync/stream are not allowed', body.stream ? 'stream' : 'mode');
      if (body.webhook) throw GenieError.badRequest('batch lines take no webhook of their own: the batch has one', 'webhook');
      return { idx: n - 1, custom_id: parsed.data.custom_id, body };
    } catch (e) {
      if (!(e instanceof GenieError)) throw e;
      return this.fail(n, e.body.code ?? 'invalid_request', `Line ${n}: ${e.body.message}`, e.body.param ? `body.${e.body.param}` : 'body');
    }
  }

  /** The batch's errors (the first 100), an empty file being one. */
  finish(): BatchError[] {
    if (this.count === 0) return [{ code: 'empty_file', message: 'The input file has no lines.', param: 'input_file_id', line: null }];
    return this.errors.slice(0, MAX_REPORTED_ERRORS);
  }
}
