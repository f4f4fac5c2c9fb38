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
