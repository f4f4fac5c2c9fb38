import OpenAI from 'openai';
import { generateTokens } from '../../simulator/text.js';
import { countPromptTokens } from '../../simulator/prompt-tokens.js';
import { openai, testStack } from '../support/stack.js';

// The official OpenAI SDK is the client: if it parses our answers, OpenAI apps will too.

describe('sync chat completions through the real stack', () => {
  const messages = [
    { role: 'system' as const, content: 'You are terse.' },
    { role: 'user' as const, content: 'What does Genie do?' },
  ];

  it('returns the node’s deterministic text, real usage and the seed’s sync shape', async () => {
    const res = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages, seed: 7 });
    const expected = generateTokens(7, messages);
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-[0-9a-z]{20,}$/);
    expect(res.model).toBe('qwen3:0.6b');
    expect(Math.abs(res.created - Date.now() / 1000)).toBeLessThan(60);
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0].message).toEqual({ role: 'assistant', content: expected.tokens.join('') });
    expect(res.choices[0].finish_reason).toBe('stop');
    const prompt = countPromptTokens({ messages }); // the node's count (template included), passed through
    expect(res.usage).toEqual({ prompt_tokens: prompt, completion_tokens: expected.tokens.length, total_tokens: prompt + expected.tokens.length });
  });

  it('passes max_tokens through: truncated text and finish_reason "length"', async () => {
    const res = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages, seed: 7, max_tokens: 3 });
    expect(res.choices[0].message.content).toBe(generateTokens(7, messages, 3).tokens.join(''));
    expect(res.choices[0].finish_reason).toBe('length');
    expect(res.usage?.completion_tokens).toBe(3);
  });

  it('gives a different completion id to every request, even for the same body', async () => {
    const [a, b] = await Promise.all([
      openai().chat.completions.create({ model: 'qwen3:0.6b', messages }),
      openai().chat.completions.create({ model: 'qwen3:0.6b', messages }),
    ]);
    expect(a.id).not.toBe(b.id);
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
  });

  it('401 in the OpenAI envelope for a missing or wrong key', async () => {
    const err = await openai('sk-genie-' + 'x'.repeat(40)).chat.completions.create({ model: 'qwen3:0.6b', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('invalid_api_key');
    expect(err.type).toBe('invalid_request_error');

    const raw = await fetch(`${testStack().apiUrl}/v1/chat/completions`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(raw.status).toBe(401);
    expect(await raw.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
  });

  it.each([
    [{ model: 'qwen3:0.6b', messages: [] }, 'messages'],
    [{ model: 'qwen3:0.6b', messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
    [{ model: 'qwen3:0.6b', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
    [{ model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }], temperature: 3 }, 'temperature'],
    [{ model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }], n: 2 }, 'n'],
    [{ model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }], mode: 'sync', stream: true }, 'stream'],
    [{ messages: [{ role: 'user', content: 'hi' }] }, 'model'],
  ])('400 naming the param for %j', async (body, param) => {
    const err = await openai().chat.completions.create(body as never).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.type).toBe('invalid_request_error');
  });

  it('400 for a body that is not JSON', async () => {
    const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
      method: 'POST',
      body: '{"model": ',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('404 model_not_found for a model no node serves', async () => {
    const err = await openai().chat.completions.create({ model: 'no-such-model', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('model_not_found');
    expect(err.param).toBe('model');
  });

  it('500 with the node’s own message when the model fails to load', async () => {
    const err = await openai().chat.completions.create({ model: 'broken:latest', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(500);
    expect(err.message).toContain('model failed to load: broken:latest');
    expect(err.type).toBe('server_error');
    // A node that answered (even 5xx) is not suspect: its other models keep serving at once.
    expect((await openai().chat.completions.create({ model: 'qwen3:0.6b', messages })).choices[0].finish_reason).toBe('stop');
  });

  it('lists the healthy nodes’ models, and only with a key', async () => {
    const list = await openai().models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['qwen3:0.6b', 'qwen3:8b', 'qwen2.5-coder:7b', 'broken:latest']));
    expect(list.data[0]).toMatchObject({ object: 'model', owned_by: 'genie' });
    const anon = await fetch(`${testStack().apiUrl}/v1/models`);
    expect(anon.status).toBe(401);
  });

  it('serves the same handlers under /api/v1 for the docs widget', async () => {
    const res = await fetch(`${testStack().apiUrl}/api/v1/models`, { headers: { authorization: `Bearer ${testStack().apiKey}` } });
    expect(res.status).toBe(200);
  });

  it('guards /admin/v1 with the admin token, not API keys', async () => {
    const { apiUrl, apiKey, adminToken } = testStack();
    const withKey = await fetch(`${apiUrl}/admin/v1/orgs`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(withKey.status).toBe(401);
    const anon = await fetch(`${apiUrl}/admin/v1/orgs`);
    expect(anon.status).toBe(401);
    const admin = await fetch(`${apiUrl}/admin/v1/no-such-route`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect(admin.status).toBe(404);
  });

  it('/healthz is 200 while Postgres and Temporal answer', async () => {
    const res = await fetch(`${testStack().apiUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', postgres: true, temporal: true });
  });
});
