// The documented prompt estimate, shared by the simulator (its `prompt_tokens`) and Genie (partial usage
// when a stream is cut before the node reports usage; budget reservations):
// ceil(characters / 4) of every message's text, plus 4 tokens of framing per message, plus 2.

export interface EstimatedMessage {
  content?: unknown;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

export function estimatePromptTokens(messages: EstimatedMessage[]): number {
  let chars = 0;
  for (const m of messages) chars += contentText(m.content).length;
  return Math.ceil(chars / 4) + 4 * messages.length + 2;
}

// The reservation's prompt bound: what no engine's count can exceed for a request (issue 15). An
// engine's tokenizer (byte-level BPE, or SentencePiece with byte fallback) never makes more tokens than
// the prompt has UTF-8 bytes; its chat template adds role headers and special tokens per message, a
// default system prompt, a tools preamble, and re-serialises JSON (tools, schemas, tool calls) with
// spaces after `:` and `,` (never more than twice the compact bytes). A prompt costs about 4 bytes a
// token, so this reserves about four times the prompt's real cost until settlement books the real one.

/** Per message: role header and end-of-turn tokens of any common template (ChatML, Llama 3, Mistral). */
export const BOUND_PER_MESSAGE = 16;
/** Per request: BOS, a default system prompt, the assistant header. */
export const BOUND_PER_REQUEST = 128;
/** With tools: the template's tools preamble (Qwen's ≈ 90 tokens, Llama 3.1's ≈ 150). */
export const BOUND_TOOLS_PREAMBLE = 512;

export interface BoundedRequest {
  messages: Array<EstimatedMessage & { name?: unknown; tool_calls?: unknown; tool_call_id?: unknown }>;
  tools?: unknown;
  response_format?: unknown;
}

const encoder = new TextEncoder();
const bytes = (s: string) => encoder.encode(s).length;
const jsonBytes = (v: unknown) => (v == null ? 0 : 2 * bytes(JSON.stringify(v)));

export function promptTokenBound(request: BoundedRequest): number {
  let n = BOUND_PER_REQUEST;
  for (const m of request.messages) {
    n += BOUND_PER_MESSAGE + bytes(contentText(m.content));
    if (typeof m.name === 'string') n += bytes(m.name);
    if (typeof m.tool_call_id === 'string') n += bytes(m.tool_call_id);
    n += jsonBytes(m.tool_calls);
  }
  const tools = Array.isArray(request.tools) && request.tools.length > 0;
  if (tools) n += BOUND_TOOLS_PREAMBLE + jsonBytes(request.tools);
  // A json_schema may be put in the prompt by a template or a guided-decoding backend's instructions.
  n += jsonBytes(request.response_format);
  return n;
}
