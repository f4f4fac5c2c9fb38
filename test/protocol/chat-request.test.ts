import pino from 'pino';
import { validateChatRequest } from '../../protocol/validate-chat-request.js';
import { GenieError } from '../../protocol/errors.js';

// One accepted and one rejected example per request parameter: the schema is the contract.

const log = pino({ level: 'silent' });
const base = { model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }] };
const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } };

const table: Array<[param: string, accepted: Record<string, unknown>, rejected: Record<string, unknown>, rejectedParam?: string]> = [
  ['model', { model: 'lite' }, { model: '' }],
  ['messages', { messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'x' }] }] }, { messages: [{ role: 'user' }] }, 'messages[0].content'],
  ['messages (tool)', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c1', content: 'ok' }] }, { messages: [{ role: 'tool', content: 'ok' }] }, 'messages[0].tool_call_id'],
  ['messages (name)', { messages: [{ role: 'user', content: 'x', name: 'ana' }] }, { messages: [{ role: 'user', content: 'x', name: 3 }] }, 'messages[0].name'],
  ['mode', { mode: 'async' }, { mode: 'batch' }],
  ['stream', { stream: true }, { stream: 'yes' }],
  ['stream_options', { stream: true, stream_options: { include_usage: true } }, { stream_options: { include_usage: true } }],
  ['temperature', { temperature: 0.7 }, { temperature: 2.5 }],
  ['top_p', { top_p: 0.9 }, { top_p: 0 }],
  ['max_tokens', { max_tokens: 64 }, { max_tokens: 0 }],
  ['max_completion_tokens', { max_completion_tokens: 64 }, { max_completion_tokens: -1 }],
  ['stop', { stop: ['\n', 'END'] }, { stop: ['a', 'b', 'c', 'd', 'e'] }],
  ['seed', { seed: 42 }, { seed: 1.5 }],
  ['n', { n: 1 }, { n: 2 }],
  ['presence_penalty', { presence_penalty: 1 }, { presence_penalty: 3 }],
  ['frequency_penalty', { frequency_penalty: -1 }, { frequency_penalty: -3 }],
  ['tools', { tools: [tool] }, { tools: [{ type: 'function', function: { name: 'bad name!' } }] }, 'tools[0].function.name'],
  ['tool_choice', { tools: [tool], tool_choice: { type: 'function', function: { name: 'f' } } }, { tools: [tool], tool_choice: { type: 'function', function: { name: 'g' } } }],
  ['parallel_tool_calls', { tools: [tool], parallel_tool_calls: false }, { parallel_tool_calls: 'no' }],
  ['response_format', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' }, strict: true } } }, { response_format: { type: 'xml' } }, 'response_format.type'],
  ['user', { user: 'u-1' }, { user: 7 }],
  ['metadata', { metadata: { a: 'b' } }, { metadata: { a: 1 } }, 'metadata.a'],
  ['webhook', { mode: 'async', webhook: { url: 'https://example.com/h', secret: 'whsec_abcdefgh' } }, { webhook: { url: 'https://example.com/h', secret: 'whsec_abcdefgh' } }],
  ['logprobs', {}, { logprobs: true }],
  ['logit_bias', {}, { logit_bias: { '1': 1 } }],
];

describe('the chat request schema, parameter by parameter', () => {
  const rows = table.map(([param, accepted, rejected, rejectedParam]) => ({ param, accepted, rejected, rejectedParam }));
  it.each(rows)('$param: accepted and rejected examples', ({ param, accepted, rejected, rejectedParam }) => {
    expect(() => validateChatRequest({ ...base, ...accepted }, log)).not.toThrow();
    let error: GenieError | null = null;
    try {
      validateChatRequest({ ...base, ...rejected }, log);
    } catch (e) {
      error = e as GenieError;
    }
    expect(error).toBeInstanceOf(GenieError);
    expect(error!.body.status).toBe(400);
    expect(error!.body.param).toBe(rejectedParam ?? param);
  });
});
