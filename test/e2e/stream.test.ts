import OpenAI from 'openai';
import { createParser } from 'eventsource-parser';
import { generateTokens } from '../../simulator/text.js';
import { openai, temporalClient, testStack, withDb } from '../support/stack.js';

const messages = [{ role: 'user' as const, content: 'Stream me something.' }];

/** Reads a raw SSE response into its data payloads (what a browser's EventSource would see). */
async function rawEvents(body: unknown): Promise<{ events: string[]; comments: number }> {
  const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(res.headers.get('x-accel-buffering')).toBe('no');
  const events: string[] = [];
  let comments = 0;
  const parser = createParser({ onEvent: (e) => events.push(e.data), onComment: () => comments++ });
  parser.feed(await res.text());
  return { events, comments };
}

describe('stream mode through the real stack', () => {
  it('streams the seed’s sequence with OpenAI’s chunk fields; the text equals the sync text', async () => {
    const stream = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages, seed: 11, stream: true });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const id = chunks[0].id;
    expect(id).toMatch(/^chatcmpl-/);
    for (const c of chunks) {
      expect(c).toMatchObject({ id, object: 'chat.completion.chunk', model: 'qwen3:0.6b', created: chunks[0].created });
      expect(c.choices[0].index).toBe(0);
    }
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const last = chunks.at(-1)!;
    expect(last.choices[0].finish_reason).toBe('stop');
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true);
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    expect(text).toBe(generateTokens(11, messages).tokens.join(''));
    const sync = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages, seed: 11 });
    expect(text).toBe(sync.choices[0].message.content);
  });

  it('adds the usage chunk before [DONE] when stream_options.include_usage is set, and settles that usage', async () => {
    const { events } = await rawEvents({ model: 'qwen3:0.6b', messages, seed: 2, mode: 'stream', stream_options: { include_usage: true } });
    expect(events.at(-1)).toBe('[DONE]');
    const usageChunk = JSON.parse(events.at(-2)!);
    const expected = generateTokens(2, messages).tokens.length;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.completion_tokens).toBe(expected);
    const id = usageChunk.id;
    const { client, close } = await temporalClient();
    try {
      await client.workflow.getHandle(id).result();
    } finally {
      await close();
    }
    const row = await withDb((db) => db.query('select completion_tokens, outcome, mode from usage_records where workflow_id = $1', [id]));
    expect(row.rows[0]).toEqual({ completion_tokens: expected, outcome: 'completed', mode: 'stream' });
  });

  it('without include_usage there is no usage chunk', async () => {
    const { events } = await rawEvents({ model: 'qwen3:0.6b', messages, stream: true });
    expect(events.some((e) => e !== '[DONE]' && JSON.parse(e).usage)).toBe(false);
  });

  it('shows a model that fails to load inline: [error] 500 … with finish_reason "error", then [DONE]', async () => {
    const { events } = await rawEvents({ model: 'broken:latest', messages, stream: true });
    expect(events.at(-1)).toBe('[DONE]');
    const last = JSON.parse(events.at(-2)!);
    expect(last.choices[0]).toEqual({ index: 0, delta: { content: '[error] 500 model failed to load: broken:latest' }, finish_reason: 'error' });
  });

  it('the SDK surfaces the inline error as content and finish_reason "error"', async () => {
    const stream = await openai().chat.completions.create({ model: 'broken:latest', messages, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe('[error] 500 model failed to load: broken:latest');
    expect(finish).toBe('error');
  });

  it('errors known before the first byte are plain JSON with their status', async () => {
    const notFound = await openai().chat.completions.create({ model: 'no-such-model', messages, stream: true }).catch((e) => e);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    const invalid = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: [], stream: true }).catch((e) => e);
    expect(invalid).toBeInstanceOf(OpenAI.BadRequestError);
    const unauth = await openai('sk-genie-nope').chat.completions.create({ model: 'qwen3:0.6b', messages, stream: true }).catch((e) => e);
    expect(unauth).toBeInstanceOf(OpenAI.AuthenticationError);
  });
});
