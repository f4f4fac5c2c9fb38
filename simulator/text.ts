import { createHash } from 'node:crypto';
import { estimatePromptTokens } from '../protocol/token-estimate.js';

export { estimatePromptTokens };

// Deterministic "generation": the same (seed, prompt) always yields the same tokens, so tests can
// assert exact text and usage without a GPU.

const VOCAB = (
  'Genie runs open-weights models on a fleet of GPU nodes behind an OpenAI-compatible API . ' +
  'every completion is a durable workflow that reserves budget selects a node streams tokens and ' +
  'settles usage exactly once , with signed webhooks for async jobs and inline errors when a node fails'
).split(' ');

export interface PromptMessage {
  role: string;
  content?: unknown;
}

function prng(seedHex: string): () => number {
  // mulberry32 seeded from the first 32 bits of a SHA-256: small, fast and stable across platforms.
  let a = parseInt(seedHex.slice(0, 8), 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Generation {
  tokens: string[];
  finishReason: 'stop' | 'length';
}

/** How a node shapes its output beyond the prompt (simulator flags `--ignore-eos`, `--token-bytes`). */
export interface OutputShape {
  /** Run to `maxTokens` whatever the natural length (vLLM's `ignore_eos`). */
  ignoreEos?: boolean;
  /** Each token this many bytes: its word repeated and cut. */
  tokenBytes?: number;
}

/**
 * Natural length is 12–35 tokens; `maxTokens` truncates with finish_reason "length" (and with
 * `ignoreEos` is the length).
 */
export function generateTokens(seed: number, messages: PromptMessage[], maxTokens?: number | null, shape: OutputShape = {}): Generation {
  const prompt = messages.map((m) => `${m.role}:${typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? '')}`).join('\n');
  const digest = createHash('sha256').update(`${seed}\u0000${prompt}`).digest('hex');
  const rand = prng(digest);
  const natural = 12 + Math.floor(rand() * 24);
  const count = maxTokens != null ? (shape.ignoreEos ? maxTokens : Math.min(natural, maxTokens)) : natural;
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const word = VOCAB[Math.floor(rand() * VOCAB.length)];
    const token = i === 0 ? 'Genie' : ` ${word}`;
    tokens.push(shape.tokenBytes ? token.repeat(Math.ceil(shape.tokenBytes / token.length)).slice(0, shape.tokenBytes) : token);
  }
  return { tokens, finishReason: count < natural || (shape.ignoreEos && maxTokens != null) ? 'length' : 'stop' };
}
