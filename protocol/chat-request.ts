import { z } from 'zod';
import { storedText, storedUrl } from './stored-text.js';

// The public request of POST /v1/chat/completions: OpenAI's Chat Completions shape plus Genie's `mode`
// and `webhook`. This schema is the validator, the type and (later) the OpenAPI doc at once.

const textPart = z.object({ type: z.literal('text'), text: z.string() });
// Image parts are understood (so they can be refused by name): no served model takes images yet.
const imagePart = z.object({ type: z.literal('image_url'), image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }) });
const contentPart = z.discriminatedUnion('type', [textPart, imagePart]);
const content = z.union([z.string(), z.array(contentPart).min(1)]);

export const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

const systemMessage = z.object({ role: z.enum(['system', 'developer']), content, name: z.string().optional() });
const userMessage = z.object({ role: z.literal('user'), content, name: z.string().optional() });
const assistantMessage = z.object({
  role: z.literal('assistant'),
  content: content.nullable().optional(),
  name: z.string().optional(),
  tool_calls: z.array(toolCallSchema).optional(),
});
const toolMessage = z.object({ role: z.literal('tool'), content, tool_call_id: z.string().min(1) });

export const chatMessageSchema = z.discriminatedUnion('role', [systemMessage, userMessage, assistantMessage, toolMessage]);
export type ChatMessage = z.infer<typeof chatMessageSchema>;

export const completionModeSchema = z.enum(['sync', 'stream', 'async']);
export type CompletionMode = z.infer<typeof completionModeSchema>;

const functionName = z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function names are 1–64 of a-z, A-Z, 0-9, _ and -');
export const toolSchema = z.object({
  type: z.literal('function'),
  function: z.object({
    name: functionName,
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});
export const toolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: functionName }) }),
]);
export const responseFormatSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);
export type ResponseFormat = z.infer<typeof responseFormatSchema>;

export const chatCompletionRequestSchema = z
  .object({
    model: storedText().min(1).max(256),
    messages: z.array(chatMessageSchema).min(1),
    mode: completionModeSchema.optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().gt(0).max(1).nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    tools: z.array(toolSchema).max(128).optional(),
    tool_choice: toolChoiceSchema.optional(),
    parallel_tool_calls: z.boolean().optional(),
    response_format: responseFormatSchema.optional(),
    // Genie serves one choice per request for now: n > 1 is refused by name rather than ignored.
    n: z.literal(1, { error: 'only n=1 is supported' }).nullable().optional(),
    user: z.string().max(256).optional(),
    /** OpenAI-style metadata: up to 16 string pairs, stored on the job and set as the workflow memo. */
    metadata: z
      .record(storedText().max(64), storedText().max(512))
      .refine((m) => Object.keys(m).length <= 16, 'at most 16 metadata keys')
      .nullable()
      .optional(),
    /** Async mode only: where the finished job is POSTed, signed with `secret`. */
    webhook: z
      .object({
        url: storedUrl('webhook.url must be an http(s) URL'),
        secret: storedText().min(8).max(256),
      })
      .optional(),
  })
  .superRefine((req, ctx) => {
    if (req.stream === true && req.mode && req.mode !== 'stream') {
      ctx.addIssue({ code: 'custom', path: ['stream'], message: `stream: true conflicts with mode "${req.mode}"` });
    }
    if (req.tool_choice && req.tool_choice !== 'none' && !req.tools?.length) {
      ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'tool_choice needs tools' });
    }
    if (typeof req.tool_choice === 'object' && !req.tools?.some((t) => t.function.name === (req.tool_choice as { function: { name: string } }).function.name)) {
      ctx.addIssue({ code: 'custom', path: ['tool_choice'], message: 'tool_choice names a function that is not in tools' });
    }
    req.messages.forEach((m, i) => {
      if (Array.isArray(m.content)) {
        m.content.forEach((p, j) => {
          if (p.type === 'image_url') ctx.addIssue({ code: 'custom', path: ['messages', i, 'content', j], message: 'image inputs are not supported by any served model' });
        });
      }
    });
    if (req.webhook && req.mode !== 'async') {
      ctx.addIssue({ code: 'custom', path: ['webhook'], message: 'webhook is only allowed with mode "async"' });
    }
    if (req.stream_options && !(req.stream === true || req.mode === 'stream')) {
      ctx.addIssue({ code: 'custom', path: ['stream_options'], message: 'stream_options is only allowed in stream mode' });
    }
  });

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

/** Known OpenAI parameters Genie cannot honour yet: refused by name (DESIGN §3a), never silently dropped. */
export const unsupportedParams = [
  'functions',
  'function_call',
  'logprobs',
  'top_logprobs',
  'logit_bias',
  'audio',
  'modalities',
  'prediction',
] as const;

/** Keys neither known nor refused: ignored with a warning, as vLLM does. */
export function unknownKeys(body: Record<string, unknown>): string[] {
  const known = new Set<string>([...Object.keys(chatCompletionRequestSchema.shape), ...unsupportedParams]);
  return Object.keys(body).filter((k) => !known.has(k));
}

/** `mode` wins when present; otherwise `stream` picks between sync and stream. */
export function resolveMode(req: ChatCompletionRequest): CompletionMode {
  return req.mode ?? (req.stream ? 'stream' : 'sync');
}

/** Flattens text parts: the node sees plain string content. */
export function messageText(m: ChatMessage): string {
  const c = m.content;
  if (c == null) return '';
  return typeof c === 'string' ? c : c.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** What a node receives (vLLM's OpenAI API; the Triton client renders it to a prompt). */
export const nodeRequestSchema = z.object({
  model: z.string(),
  messages: z.array(
    z.object({
      role: z.string(),
      content: z.string(),
      name: z.string().optional(),
      tool_call_id: z.string().optional(),
      tool_calls: z.array(toolCallSchema).optional(),
    }),
  ),
  tools: z.array(toolSchema).optional(),
  tool_choice: toolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormatSchema.optional(),
  presence_penalty: z.number().optional(),
  frequency_penalty: z.number().optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  max_tokens: z.number().int().optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  seed: z.number().int().optional(),
});
export type NodeRequest = z.infer<typeof nodeRequestSchema>;

/** The request owns its translation to the node's shape (as vLLM's protocol.py does). */
export function toNodeRequest(req: ChatCompletionRequest, model: string): NodeRequest {
  const out: NodeRequest = {
    model,
    messages: req.messages.map((m) => ({
      role: m.role,
      content: messageText(m),
      ...('name' in m && m.name ? { name: m.name } : {}),
      ...(m.role === 'tool' ? { tool_call_id: m.tool_call_id } : {}),
      ...(m.role === 'assistant' && m.tool_calls?.length ? { tool_calls: m.tool_calls } : {}),
    })),
  };
  if (req.tools?.length) out.tools = req.tools;
  if (req.tool_choice) out.tool_choice = req.tool_choice;
  if (req.parallel_tool_calls != null) out.parallel_tool_calls = req.parallel_tool_calls;
  if (req.response_format && req.response_format.type !== 'text') out.response_format = req.response_format;
  if (req.presence_penalty != null) out.presence_penalty = req.presence_penalty;
  if (req.frequency_penalty != null) out.frequency_penalty = req.frequency_penalty;
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) out.max_tokens = maxTokens;
  if (req.stop != null) out.stop = req.stop;
  if (req.seed != null) out.seed = req.seed;
  return out;
}

