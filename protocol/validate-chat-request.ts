import type { Logger } from 'pino';
import type { z } from 'zod';
import { chatCompletionRequestSchema, unknownKeys, unsupportedParams, type ChatCompletionRequest } from './chat-request.js';
import { GenieError } from './errors.js';
import { jsonSchemaProblem, schemaLimitProblem } from './json-schema.js';

/** zod path → OpenAI-style `param`: ['messages', 0, 'content'] → "messages[0].content". */
export function paramOf(path: ReadonlyArray<PropertyKey>): string | null {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || null;
}

export function firstIssue(error: z.ZodError): GenieError {
  const issue = error.issues[0];
  const param = paramOf(issue.path);
  return GenieError.badRequest(param ? `Invalid value for '${param}': ${issue.message}` : issue.message, param);
}

export function validateChatRequest(body: unknown, log: Logger): ChatCompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw GenieError.badRequest('The request body must be a JSON object.');
  }
  const obj = body as Record<string, unknown>;
  for (const p of unsupportedParams) {
    if (obj[p] !== undefined && obj[p] !== null) throw GenieError.badRequest(`'${p}' is not supported yet.`, p, 'unsupported_parameter');
  }
  const parsed = chatCompletionRequestSchema.safeParse(obj);
  if (!parsed.success) throw firstIssue(parsed.error);
  checkCallerSchemas(parsed.data);
  const ignored = unknownKeys(obj);
  if (ignored.length) log.warn({ ignored }, 'ignoring unknown request keys');
  return parsed.data;
}

/**
 * Every JSON Schema a caller sends is bounded (protocol/json-schema.ts) before anything starts: the node
 * compiles each into a grammar, and Genie compiles a strict response format itself to check the output.
 */
function checkCallerSchemas(req: ChatCompletionRequest): void {
  req.tools?.forEach((tool, i) => {
    const problem = tool.function.parameters && schemaLimitProblem(tool.function.parameters);
    if (problem) throw GenieError.badRequest(`Invalid JSON Schema for tool '${tool.function.name}': ${problem}`, `tools[${i}].function.parameters`);
  });
  const format = req.response_format;
  if (format?.type !== 'json_schema' || !format.json_schema.schema) return;
  const strict = format.json_schema.strict === true;
  const problem = strict ? jsonSchemaProblem(format.json_schema.schema) : schemaLimitProblem(format.json_schema.schema);
  if (problem) throw GenieError.badRequest(`Invalid JSON Schema for ${strict ? 'strict ' : ''}json_schema: ${problem}`, 'response_format.json_schema.schema');
}
