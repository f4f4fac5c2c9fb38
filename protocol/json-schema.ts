import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { RE2JS } from 're2js';

// `response_format: json_schema` with `strict: true` makes Genie itself compile the schema to check the
// model's output (activities/inference/structured-output.ts). A schema Ajv cannot compile (not a JSON
// Schema, an unresolvable $ref, an unknown $schema) used to surface only after inference, as a 500; it is
// the caller's mistake, so the API refuses it up front with a 400 naming the param. The options match
// the activity's Ajv, so what passes here compiles there.
//
// Compiling runs on the event loop of the process holding the caller, so its cost is bounded before it
// starts. Bytes alone do not bound it: Ajv's cost grows faster than the count of subschemas (a
// 1,000-property schema of 25 KB took ~0.3 s, 2,700 properties in 32 KB overflowed the stack), and each
// `pattern` is compiled too. So every caller schema — the response format's and every tool's, strict
// or not, since the node compiles them into a grammar as well — is held to all four limits below, and
// what compiled is cached by a hash of its text, so a schema sent again costs nothing.

export const MAX_SCHEMA_BYTES = 32 * 1024;
export const MAX_SCHEMA_DEPTH = 32;
/** JSON objects in the schema (each a potential subschema): ~15 ms of Ajv compile at this count. */
export const MAX_SCHEMA_NODES = 256;
/** Characters of every `pattern` and `patternProperties` key together: ~10 ms of RE2 compile. */
export const MAX_SCHEMA_PATTERN_CHARS = 2048;

// Caller patterns are matched against the model's output, which a caller can steer: a backtracking
// engine (JS RegExp) takes exponential time on `^(a+)+$` against 'aaaa…!'. RE2 matches in linear time;
// it has no backreferences or lookarounds, so a schema using them does not compile (a 400). Ajv
// compiles each pattern once, with `u` (RE2 is Unicode-aware anyway); `code` names it in Ajv's scope.
const re2 = Object.assign((pattern: string) => RE2JS.compile(RE2JS.translateRegExp(pattern)), { code: 'genieRe2' });
const ajv = new Ajv({ allErrors: false, strict: false, code: { regExp: re2 } });
/** Validators (or why there is none) by a hash of the schema text; bounded, since every request may bring its own. */
const compiled = new Map<string, ValidateFunction | Error>();

interface SchemaShape {
  depth: number;
  nodes: number;
  patternChars: number;
}

/** One walk that stops as soon as any limit is passed (a hostile schema is not walked to its end). */
function shapeOf(value: unknown, shape: SchemaShape = { depth: 0, nodes: 0, patternChars: 0 }, depth = 0): SchemaShape {
  if (typeof value !== 'object' || value === null) return shape;
  shape.depth = Math.max(shape.depth, depth + 1);
  if (!Array.isArray(value)) shape.nodes++;
  if (shape.depth > MAX_SCHEMA_DEPTH || shape.nodes > MAX_SCHEMA_NODES || shape.patternChars > MAX_SCHEMA_PATTERN_CHARS) return shape;
  for (const [k, v] of Object.entries(value)) {
    if (Array.isArray(value)) {
      shapeOf(v, shape, depth + 1);
      continue;
    }
    if (k === 'pattern' && typeof v === 'string') shape.patternChars += v.length;
    if (k === 'patternProperties' && typeof v === 'object' && v !== null) shape.patternChars += Object.keys(v).join('').length;
    shapeOf(v, shape, depth + 1);
  }
  return shape;
}

/** Why a schema is too big to compile on a request path, or null. */
export function schemaLimitProblem(schema: object, text = JSON.stringify(schema)): string | null {
  if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES) return `the schema is larger than ${MAX_SCHEMA_BYTES} bytes`;
  const shape = shapeOf(schema);
  if (shape.depth > MAX_SCHEMA_DEPTH) return `the schema nests deeper than ${MAX_SCHEMA_DEPTH} levels`;
  if (shape.nodes > MAX_SCHEMA_NODES) return `the schema has more than ${MAX_SCHEMA_NODES} subschemas (JSON objects)`;
  if (shape.patternChars > MAX_SCHEMA_PATTERN_CHARS) return `the schema's patterns are longer than ${MAX_SCHEMA_PATTERN_CHARS} characters together`;
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
