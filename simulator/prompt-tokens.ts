import { Template } from '@huggingface/jinja';

// prompt_tokens as an engine counts them, independently of Genie's own estimator: the chat template
// rendered (Qwen2.5's ChatML, tools and their JSON schemas in the system turn, as vLLM renders them),
// then tokenized by Qwen2's pre-tokenizer rules: a word of up to 10 letters is one token (a 150k
// vocabulary holds common words whole, with their leading space), a longer one splits every 4 letters
// as a rare word does, every digit is a token of its own, other runs split every 4 characters; special
// tokens are one each. So the count differs from Genie's estimate (characters / 4) both ways: prose of
// long words counts fewer tokens, numbers many more.

const QWEN25 = `{%- if tools %}
{{- '<|im_start|>system\\n' }}
{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
{{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
{%- for tool in tools %}{{- "\\n" }}{{- tool | tojson }}{%- endfor %}
{{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' and message.tool_calls %}
{{- '<|im_start|>assistant' }}{%- if message.content %}{{- '\\n' + message.content }}{%- endif %}
{%- for tool_call in message.tool_calls %}{{- '\\n<tool_call>\\n{"name": "' + tool_call.function.name + '", "arguments": ' + tool_call.function.arguments + '}\\n</tool_call>' }}{%- endfor %}
{{- '<|im_end|>\\n' }}
{%- elif message.role == 'tool' %}
{{- '<|im_start|>user\\n<tool_response>\\n' + message.content + '\\n</tool_response><|im_end|>\\n' }}
{%- else %}
{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
{%- endif %}
{%- endfor %}
{{- '<|im_start|>assistant\\n' }}`;

const template = new Template(QWEN25);
const SPECIAL = /(<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|<tool_call>|<\/tool_call>)/;
const PRE_TOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const WORD = /^ ?(\p{L}+)$/u;
/** Letters a vocabulary holds as one token. */
const WHOLE_WORD = 10;

function text(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  return content == null ? '' : JSON.stringify(content);
}

/** Tokens of a rendered prompt. */
export function countTokens(rendered: string): number {
  let n = 0;
  for (const part of rendered.split(SPECIAL)) {
    if (!part) continue;
    if (SPECIAL.test(part)) {
      n++;
      continue;
    }
    for (const piece of part.match(PRE_TOKEN) ?? []) {
      const word = WORD.exec(piece)?.[1];
      n += word && word.length <= WHOLE_WORD ? 1 : Math.ceil(piece.length / 4);
    }
  }
  return n;
}

export interface ChatPrompt {
  messages: Array<{ role: string; content?: unknown; tool_calls?: unknown }>;
  tools?: unknown[];
}

/** The prompt an engine sees for a chat request, its template applied. */
export function renderPrompt(body: ChatPrompt): string {
  const messages = body.messages.map((m) => ({ ...m, role: m.role === 'developer' ? 'system' : m.role, content: text(m.content) }));
  return template.render({ messages, tools: body.tools?.length ? body.tools : undefined });
}

/** prompt_tokens of a chat request, as an engine reports them. */
export function countPromptTokens(body: ChatPrompt): number {
  return countTokens(renderPrompt(body));
}
