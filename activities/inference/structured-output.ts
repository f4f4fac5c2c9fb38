import type { NodeRequest } from '../../protocol/chat-request.js';
import { compileJsonSchema } from '../../protocol/json-schema.js';

// `response_format: json_schema` with `strict: true` is a promise to the caller: the final output
// parses and matches the schema. Genie checks it (Ajv) instead of passing invalid JSON off as success.
// The API already refused schemas that do not compile; the shared compiler keeps no `$id` registered,
// so two callers' schemas with the same `$id` cannot collide.

/** null when the output keeps the promise (or none was made), else what is wrong with it. */
export function structuredOutputError(request: NodeRequest, text: string): string | null {
  const format = request.response_format;
  if (format?.type !== 'json_schema' || format.json_schema.strict !== true) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return `the model's output is not valid JSON for json_schema '${format.json_schema.name}'`;
  }
  const validate = compileJsonSchema(format.json_schema.schema ?? {});
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  return `the model's output does not match json_schema '${format.json_schema.name}': ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`;
}
