import { Ajv, type ValidateFunction } from 'ajv';
import type { NodeRequest } from '../../protocol/chat-request.js';

// `response_format: json_schema` with `strict: true` is a promise to the caller: the final output
// parses and matches the schema. Genie checks it (Ajv) instead of passing invalid JSON off as success.

const ajv = new Ajv({ allErrors: false, strict: false });
// Compiled validators by schema text; bounded, since every request may bring its own schema.
const compiled = new Map<string, ValidateFunction>();

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
  const schema = format.json_schema.schema ?? {};
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, validate);
  }
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  return `the model's output does not match json_schema '${format.json_schema.name}': ${first?.instancePath || '/'} ${first?.message ?? 'is invalid'}`;
}
