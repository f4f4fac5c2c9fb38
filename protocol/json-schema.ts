import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';

// `response_format: json_schema` with `strict: true` makes Genie itself compile the schema to check the
// model's output (activities/inference/structured-output.ts). A schema Ajv cannot compile (not a JSON
// Schema, an unresolvable $ref, an unknown $schema) used to surface only after inference, as a 500; it is
// the caller's mistake, so the API refuses it up front with a 400 naming the param. The options match
// the activity's Ajv, so what passes here compiles there.
//
// Compiling runs on the event loop of the process holding the caller, so its cost is bounded before it
// starts: a schema of at most MAX_SCHEMA_BYTES and MAX_SCHEMA_DEPTH compiles in well under 100 ms,
// while a 2,000-property schema took over a second and a deeply nested one overflowed the stack.

export const MAX_SCHEMA_BYTES = 32 * 1024;
export const MAX_SCHEMA_DEPTH = 32;

const ajv = new Ajv({ allErrors: false, strict: false });
/** Validators (or why there is none) by a hash of the schema text; bounded, since every request may bring its own. */
const compiled = new Map<string, ValidateFunction | Error>();

function depthOf(value: unknown, limit: number, depth = 0): number {
  if (depth > limit || typeof value !== 'object' || value === null) return depth;
  let max = depth;
  for (const v of Object.values(value)) {
    max = Math.max(max, depthOf(v, limit, depth + 1));
    if (max > limit) break;
  }
  return max;
}

/** Why a schema is too big to compile on a request path, or null. */
export function schemaLimitProblem(schema: object, text = JSON.stringify(schema)): string | null {
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) return `the schema is larger than ${MAX_SCHEMA_BYTES} bytes`;
  if (depthOf(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH) return `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`;
  return null;
}

/**
 * Compiles a caller's JSON Schema, or throws why it cannot. Nothing stays registered in Ajv afterwards:
 * two callers' schemas with the same `$id` must not collide ("schema with key or id already exists").
 */
export function compileJsonSchema(schema: object): ValidateFunction {
  const text = JSON.stringify(schema);
  const key = createHash('sha256').update(text).digest('base64url');
  let entry = compiled.get(key);
  if (!entry) {
    const tooBig = schemaLimitProblem(schema, text);
    try {
      if (tooBig) throw new Error(tooBig);
      entry = ajv.compile(schema);
    } catch (e) {
      entry = e instanceof Error ? e : new Error(String(e));
    } finally {
      ajv.removeSchema(); // every non-meta schema: a compiled validator keeps working without them
    }
    if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, entry);
  }
  if (entry instanceof Error) throw entry;
  return entry;
}

/** null when the schema compiles, else why it does not. */
export function jsonSchemaProblem(schema: object): string | null {
  try {
    compileJsonSchema(schema);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
