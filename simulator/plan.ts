import { createHash } from 'node:crypto';
import { generateTokens, type OutputShape, type PromptMessage } from './text.js';

// What the simulator answers a chat request with: plain tokens, a tool call, or JSON that conforms to
// the requested schema — all deterministic from (seed, prompt), so tests can assert them.

export interface ToolSpec { type?: string; function?: { name?: string; parameters?: Record<string, unknown> } }
export type Plan =
  | { kind: 'text'; pieces: string[]; finishReason: 'stop' | 'length' }
  | { kind: 'tool'; id: string; name: string; arguments: string; pieces: string[]; forced: boolean };

type Schema = Record<string, unknown>;

/** A value that satisfies `schema` (the subset of JSON Schema structured outputs use). */
export function jsonFromSchema(schema: Schema | undefined, words: string[], depth = 0): unknown {
  const s = schema ?? {};
  const plain = words.map((w) => w.trim()).filter((w) => /^[A-Za-z]/.test(w));
  const pick = (i: number) => (plain.length ? plain[i % plain.length] : 'genie');
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if ('const' in s) return s.const;
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const props = (s.properties ?? {}) as Record<string, Schema>;
      return Object.fromEntries(Object.entries(props).map(([k, v], i) => [k, jsonFromSchema(v, words.slice(i + 1).concat(words), depth + 1)]));
    }
    case 'array':
      return depth > 3 ? [] : [jsonFromSchema(s.items as Schema, words, depth + 1)];
    case 'integer':
      return Math.max(Number(s.minimum ?? 0), words.length % 7);
    case 'number':
      return Math.max(Number(s.minimum ?? 0), (words.length % 7) + 0.5);
    case 'boolean':
      return words.length % 2 === 0;
    case 'null':
      return null;
    default:
      return pick(depth);
  }
}

/** Splits text into stream pieces of about four characters (a token's worth). */
const pieces = (text: string) => text.match(/[\s\S]{1,4}/g) ?? [];

export function planResponse(body: {
  messages: PromptMessage[];
  seed: number;
  maxTokens: number | null;
  tools?: ToolSpec[];
  toolChoice?: unknown;
  responseFormat?: { type?: string; json_schema?: { schema?: Schema } };
  breakJson?: boolean;
  shape?: OutputShape;
}): Plan {
  const gen = generateTokens(body.seed, body.messages, body.maxTokens, body.shape);
  const tools = (body.tools ?? []).filter((t) => t.function?.name);
  const choice = body.toolChoice ?? 'auto';
  const last = body.messages.at(-1)?.role;
  const named = typeof choice === 'object' && choice !== null ? (choice as { function?: { name?: string } }).function?.name : undefined;
  // After a tool result the model answers in words, unless a call is required.
  const callTool = tools.length > 0 && choice !== 'none' && (choice === 'required' || named !== undefined || last !== 'tool');
  if (callTool) {
    const tool = tools.find((t) => t.function!.name === named) ?? tools[0];
    const args = JSON.stringify(jsonFromSchema(tool.function!.parameters, gen.tokens));
    // vLLM's tool-call ids (OpenAI's are `call_…`: callers must take either).
    const id = `chatcmpl-tool-${createHash('sha256').update(`${body.seed}:${args}:${body.messages.length}`).digest('hex').slice(0, 16)}`;
    return { kind: 'tool', id, name: tool.function!.name!, arguments: args, pieces: pieces(args), forced: named !== undefined };
  }
  const format = body.responseFormat?.type;
  if (format === 'json_schema' || format === 'json_object') {
    const value = format === 'json_schema' ? jsonFromSchema(body.responseFormat?.json_schema?.schema, gen.tokens) : { answer: gen.tokens.join('') };
    const text = body.breakJson ? JSON.stringify({ unexpected: gen.tokens[0] }) : JSON.stringify(value);
    return { kind: 'text', pieces: pieces(text), finishReason: 'stop' };
  }
  return { kind: 'text', pieces: gen.tokens, finishReason: gen.finishReason };
}
