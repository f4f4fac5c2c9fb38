import { Ajv, type ValidateFunction } from 'ajv';

// `response_format: json_schema` with `strict: true` makes Genie itself compile the schema to check the
// model's output (activities/inference/structured-output.ts). A schema Ajv cannot compile (not a JSON
// Schema, an unresolvable $ref, an unknown $schema) used to surface only after inference, as a 500; it is
// the caller's mistake, so the API refuses it up front with a 400 naming the param. The options match
// the activity's Ajv, so what passes here compiles there.

const ajv = new Ajv({ allErrors: false, strict: false });
/** Validators (or why there is none) by schema text; bounded, since every request may bring its own schema. */
const compiled = new Map<string, ValidateFunction | Error>();

/**
 * Compiles a caller's JSON Schema, or throws why it cannot. Nothing stays registered in Ajv afterwards:
 * two callers' schemas with the same `$id` must not collide ("schema with key or id already exists").
 */
export function compileJsonSchema(schema: object): ValidateFunction {
  const key = JSON.stringify(schema);
  let entry = compiled.get(key);
  if (!entry) {
    try {
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
