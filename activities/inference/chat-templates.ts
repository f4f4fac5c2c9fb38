import { Template } from '@huggingface/jinja';
import type { NodeRequest } from '../../protocol/chat-request.js';

// Triton's generate extension takes one prompt string, so Genie renders the chat itself with the
// model family's own template (vendored from the models' tokenizer_config.json), through a maintained
// Jinja implementation.

/** Qwen (ChatML). */
const CHATML = `{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}`;

/** Llama 3.x. */
const LLAMA3 = `{{- bos_token }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}`;

const templates = { chatml: new Template(CHATML), llama3: new Template(LLAMA3) };

export function templateFor(model: string): keyof typeof templates {
  return /llama/i.test(model) ? 'llama3' : 'chatml';
}

/** The prompt Triton receives for a chat request, ending with the assistant's turn. */
export function renderChat(request: Pick<NodeRequest, 'model' | 'messages'>): string {
  const family = templateFor(request.model);
  // Llama 3 has no "developer" role; OpenAI's developer messages are system messages there.
  const messages = request.messages.map((m) => ({ role: m.role === 'developer' ? 'system' : m.role, content: m.content }));
  return templates[family].render({ messages, add_generation_prompt: true, bos_token: '<|begin_of_text|>' });
}
