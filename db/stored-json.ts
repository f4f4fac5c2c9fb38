/** A `\u0000` escape in JSON text (not an escaped backslash followed by "u0000"). */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * JSON text for a jsonb column. jsonb refuses `\u0000`, which a model's output or a node's error message
 * may carry (callers' own strings were refused at validation): stored as U+FFFD rather than a write
 * retrying forever.
 */
export function storedJson(value: unknown): string {
  return JSON.stringify(value).replace(NUL_ESCAPE, '$1\\ufffd');
}
