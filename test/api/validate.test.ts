import { jest } from '@jest/globals';
import pino from 'pino';
import { paramOf, validateChatRequest } from '../../protocol/validate-chat-request.js';
import { resolveMode } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import { parseNodeList } from '../../activities/nodes/node-list.js';
import { loadConfig } from '../../workers/config.js';

const log = pino({ level: 'silent' });
const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const bad = (body: unknown) => {
  try {
    validateChatRequest(body, log);
  } catch (e) {
    return (e as GenieError).body;
  }
  throw new Error('expected a validation error');
};

describe('request validation', () => {
  it('formats zod paths as OpenAI params', () => {
    expect(paramOf(['messages', 2, 'content'])).toBe('messages[2].content');
    expect(paramOf([])).toBeNull();
  });

  it('refuses known-but-unsupported parameters by name instead of dropping them', () => {
    expect(bad({ ...ok, logit_bias: { '50256': -100 } })).toMatchObject({ status: 400, param: 'logit_bias', code: 'unsupported_parameter' });
  });

  it('bounds what a strict json_schema may cost to compile on the request path', () => {
    const strict = (schema: object) => ({ ...ok, response_format: { type: 'json_schema', json_schema: { name: 's', strict: true, schema } } });
    const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`field_${i}`, { type: 'string' }])) };
    expect(bad(strict(wide))).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringContaining('larger than 32768 bytes') });
    let deep: object = { type: 'string' };
    for (let i = 0; i < 40; i++) deep = { type: 'object', properties: { x: deep } };
    expect(bad(strict(deep))).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringContaining('nests deeper than 32 levels') });
    // An ordinary schema still compiles and passes.
    expect(validateChatRequest(strict({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }), log).response_format?.type).toBe('json_schema');
  });

  it('bounds every caller schema — strict or not, response format or tool — before anything starts', () => {
    const format = (schema: object, strict = false) => ({ ...ok, response_format: { type: 'json_schema', json_schema: { name: 's', strict, schema } } });
    const tools = (parameters: object) => ({ ...ok, tools: [{ type: 'function', function: { name: 'small', parameters: { type: 'object' } } }, { type: 'function', function: { name: 'big', parameters } }] });
    const big = { type: 'object', properties: { blob: { type: 'string', description: 'x'.repeat(40 * 1024) } } };
    // Not compiled by Genie, but the node compiles it into a grammar: bounded all the same.
    expect(bad(format(big))).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringContaining('larger than 32768 bytes') });
    expect(bad(tools(big))).toMatchObject({ status: 400, param: 'tools[1].function.parameters', message: expect.stringContaining("tool 'big'") });
    // Under 32 KB, yet 2,700 subschemas: Ajv took over a second on it and then overflowed the stack.
    const many = { type: 'object', properties: Object.fromEntries(Array.from({ length: 2700 }, (_, i) => [`f${i}`, {}])) };
    expect(JSON.stringify(many).length).toBeLessThan(32 * 1024);
    expect(bad(format(many, true))).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringContaining('more than 256 subschemas') });
    expect(bad(tools(many))).toMatchObject({ status: 400, param: 'tools[1].function.parameters', message: expect.stringContaining('more than 256 subschemas') });
    const patterns = { type: 'object', properties: Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`f${i}`, { type: 'string', pattern: `^(${'w|'.repeat(400)}${i})$` }])) };
    expect(bad(format(patterns, true))).toMatchObject({ status: 400, message: expect.stringContaining("patterns are longer than 2048 characters") });
    // RE2 has no lookarounds: a strict schema that needs one cannot be checked, so it is refused up front.
    expect(bad(format({ type: 'string', pattern: '^(?=a)a$' }, true))).toMatchObject({ status: 400, param: 'response_format.json_schema.schema', message: expect.stringContaining('error parsing regexp') });
    // Ordinary tools and formats still pass.
    expect(validateChatRequest(tools({ type: 'object', properties: { city: { type: 'string', pattern: '^[A-Z]' } } }), log).tools).toHaveLength(2);
  });

  it('ignores unknown keys with a warning (as vLLM does)', () => {
    const warn = jest.fn();
    const req = validateChatRequest({ ...ok, frobnicate: 1 }, { warn } as never);
    expect(req).not.toHaveProperty('frobnicate');
    expect(warn).toHaveBeenCalledWith({ ignored: ['frobnicate'] }, expect.any(String));
  });

  it('lets mode win and refuses stream:true against another mode', () => {
    expect(resolveMode(validateChatRequest({ ...ok, stream: true }, log))).toBe('stream');
    expect(resolveMode(validateChatRequest({ ...ok, mode: 'async' }, log))).toBe('async');
    expect(resolveMode(validateChatRequest(ok, log))).toBe('sync');
    expect(bad({ ...ok, mode: 'async', stream: true })).toMatchObject({ param: 'stream' });
  });

  it('accepts text content parts and refuses non-object bodies', () => {
    expect(validateChatRequest({ ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, log).messages).toHaveLength(1);
    expect(bad([1, 2])).toMatchObject({ status: 400, param: null });
  });
});

describe('configuration', () => {
  it('parses GENIE_NODES', () => {
    expect(parseNodeList('vllm=http://127.0.0.1:9101, gpu-a:triton=http://10.0.0.2:8000/')).toEqual([
      { name: 'vllm-9101', url: 'http://127.0.0.1:9101', engine: 'vllm' },
      { name: 'gpu-a', url: 'http://10.0.0.2:8000', engine: 'triton' },
    ]);
  });

  it('fails fast naming the bad variable', () => {
    expect(() => loadConfig({ GENIE_PORT: 'eighty' })).toThrow(/GENIE_PORT/);
    expect(() => loadConfig({ GENIE_NODES: 'cuda=http://x' })).toThrow(/GENIE_NODES/);
  });
});
