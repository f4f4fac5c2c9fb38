import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { openai, testStack } from '../support/stack.js';
import { createTenant, putCap } from '../support/tenants.js';

// Apps written against OpenAI's Chat Completions work against Genie by changing base URL and key:
// the official SDK is the judge of every shape below.

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer', minimum: 1 } }, required: ['city', 'days'], additionalProperties: false },
  },
};
const ask = [{ role: 'user' as const, content: 'What is the weather in Paris?' }];

describe('tools', () => {
  it('round trip in sync mode: tool call → tool result → final answer', async () => {
    const first = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: ask, tools: [weatherTool] });
    expect(first.choices[0].finish_reason).toBe('tool_calls');
    const call = first.choices[0].message.tool_calls![0];
    // OpenAI's ids are `call_…`, vLLM's `chatcmpl-tool-…`: both are legitimate, passed through.
    expect(call).toMatchObject({ id: expect.stringMatching(/^(call_|chatcmpl-tool-)\w+/), type: 'function', function: { name: 'get_weather' } });
    // vLLM sends content "" beside tool calls; OpenAI's shape (and Genie's) is null.
    expect(first.choices[0].message.content).toBeNull();
    const args = JSON.parse((call as { function: { arguments: string } }).function.arguments);
    expect(args).toEqual({ city: expect.any(String), days: expect.any(Number) });

    const final = await openai().chat.completions.create({
      model: 'qwen3:0.6b',
      tools: [weatherTool],
      messages: [...ask, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp": 21}' }],
    });
    expect(final.choices[0].finish_reason).toBe('stop');
    expect(final.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(final.choices[0].message.tool_calls).toBeUndefined();
  });

  it('streams tool calls as OpenAI does, and the SDK’s stream helper assembles them', async () => {
    const runner = openai().chat.completions.stream({ model: 'qwen3:0.6b', messages: ask, tools: [weatherTool] });
    const deltas: unknown[] = [];
    runner.on('chunk', (c) => c.choices[0]?.delta.tool_calls && deltas.push(...c.choices[0].delta.tool_calls));
    const done = await runner.finalChatCompletion();
    expect(done.choices[0].finish_reason).toBe('tool_calls');
    const call = done.choices[0].message.tool_calls![0] as { id: string; function: { name: string; arguments: string } };
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: expect.any(String), days: expect.any(Number) });
    expect(deltas.length).toBeGreaterThan(2); // id+name first, then argument fragments
    expect(deltas[0]).toMatchObject({ index: 0, id: call.id, type: 'function', function: { name: 'get_weather' } });

    const answer = await openai().chat.completions.create({
      model: 'qwen3:0.6b',
      stream: true,
      tools: [weatherTool],
      messages: [...ask, done.choices[0].message as never, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
    });
    let text = '';
    for await (const c of answer) text += c.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
  });

  it('a named tool_choice forces that function; "none" answers in words', async () => {
    const other = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] } } };
    const named = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: ask, tools: [weatherTool, other], tool_choice: { type: 'function', function: { name: 'get_time' } } });
    expect((named.choices[0].message.tool_calls![0] as { function: { name: string } }).function.name).toBe('get_time');
    // A forced call finishes "stop" on OpenAI and vLLM alike.
    expect(named.choices[0].finish_reason).toBe('stop');
    const none = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: ask, tools: [weatherTool], tool_choice: 'none' });
    expect(none.choices[0].finish_reason).toBe('stop');
  });

  it('async jobs carry tool calls unchanged', async () => {
    const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
      body: JSON.stringify({ model: 'qwen3:0.6b', mode: 'async', messages: ask, tools: [weatherTool] }),
    });
    const accepted = (await res.json()) as { poll_url: string };
    let job: { status: string; result?: { choices: Array<{ finish_reason: string; message: { tool_calls: unknown[] } }> } };
    do {
      await new Promise((r) => setTimeout(r, 50));
      job = (await (await fetch(`${testStack().apiUrl}${accepted.poll_url}`, { headers: { authorization: `Bearer ${testStack().apiKey}` } })).json()) as typeof job;
    } while (job.status !== 'completed' && job.status !== 'failed');
    expect(job.result!.choices[0].finish_reason).toBe('tool_calls');
    expect(job.result!.choices[0].message.tool_calls[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
  });
});

describe('structured outputs', () => {
  const Weather = z.object({ city: z.string(), celsius: z.number(), rainy: z.boolean() });

  it('json_schema output is parsed by the SDK’s parse helper with a zod schema', async () => {
    const completion = await openai().chat.completions.parse({ model: 'qwen3:0.6b', messages: ask, response_format: zodResponseFormat(Weather, 'weather') });
    const parsed = completion.choices[0].message.parsed!;
    expect(Weather.parse(parsed)).toEqual(parsed);
  });

  it('strict schemas of different callers that share an $id are each checked against their own', async () => {
    const schema = (field: string) => ({ $id: 'https://example.test/shared', type: 'object', properties: { [field]: { type: 'string' } }, required: [field], additionalProperties: false });
    for (const field of ['city', 'country']) {
      const res = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: ask, response_format: { type: 'json_schema', json_schema: { name: 'place', strict: true, schema: schema(field) } } });
      expect(Object.keys(JSON.parse(res.choices[0].message.content!))).toEqual([field]);
    }
    // A schema nothing can compile is the caller's mistake: 400 before any inference.
    const err = await openai()
      .chat.completions.create({ model: 'qwen3:0.6b', messages: ask, response_format: { type: 'json_schema', json_schema: { name: 'bad', strict: true, schema: { type: 5 } as never } } })
      .catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.param).toBe('response_format.json_schema.schema');
  });

  it('json_object answers with a JSON object', async () => {
    const res = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: ask, response_format: { type: 'json_object' } });
    expect(typeof JSON.parse(res.choices[0].message.content!)).toBe('object');
  });

  it('a request needing a capability no serving node has is a 400 naming it', async () => {
    const err = await openai().chat.completions.create({ model: 'llama3.3:70b', messages: ask, tools: [weatherTool] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('tools');
    expect(err.code).toBe('unsupported_capability');
    const fmt = await openai().chat.completions.create({ model: 'llama3.3:70b', messages: ask, response_format: zodResponseFormat(Weather, 'w') }).catch((e) => e);
    expect(fmt.param).toBe('response_format');
  });

  it('image parts are refused with a 400 naming the part', async () => {
    const err = await openai()
      .chat.completions.create({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'https://example.com/x.png' } }] }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('messages[0].content[1]');
  });
});

describe('a node that breaks its strict schema, and every error status through the SDK', () => {
  let bad: Simulator, gone: Simulator, full: Simulator;
  let genie: IsolatedGenie;
  let client: OpenAI;
  beforeAll(async () => {
    [bad, gone, full] = await Promise.all([
      startSimulator({ port: 0, models: ['bad-json'], failureInjectionRate: 100, failureTypes: ['invalid_json'] }),
      startSimulator({ port: 0, models: ['gone-model'] }),
      startSimulator({ port: 0, models: ['full-model'], maxNumSeqs: 2, timeToFirstToken: 700 }),
    ]);
    genie = await startIsolatedGenie({
      nodes: `bad:vllm=${bad.url},gone:vllm=${gone.url},full:vllm=${full.url}`,
      env: { GENIE_SATURATION_WAITING: '2', GENIE_ADMISSION_TIMEOUT_MS: '500', GENIE_PROBE_TIMEOUT_MS: '1000' },
    });
    client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
    await gone.close(); // known to the registry, now unreachable: the probe marks it down
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([bad, full].map((x) => x?.close()));
  });

  const strict = { type: 'json_schema' as const, json_schema: { name: 'weather', strict: true, schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } } };

  it('strict json_schema violated: a clear 500 in sync, the inline error in a stream — never invalid JSON as success', async () => {
    const err = await client.chat.completions.create({ model: 'bad-json', messages: ask, response_format: strict }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.code).toBe('invalid_structured_output');
    expect(err.message).toContain("does not match json_schema 'weather'");
    const stream = await client.chat.completions.create({ model: 'bad-json', messages: ask, response_format: strict, stream: true });
    let finish = null;
    let text = '';
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('error');
    expect(text).toContain("[error] 500 the model's output does not match json_schema 'weather'");
  });

  it('maps 400, 401, 402, 404, 409, 429, 500 and 503 to the SDK’s error classes', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1);
    const capped = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: t.apiKey, maxRetries: 0 });
    const key = `k-${Date.now()}`;
    // Priced, so that even the smallest request costs more than the 1 µUSD cap.
    await fetch(`${testStack().apiUrl}/admin/v1/prices/bad-json`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: JSON.stringify({ inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 }),
    });
    const cases: Array<[() => Promise<unknown>, new (...a: never[]) => Error, number]> = [
      [() => client.chat.completions.create({ model: 'bad-json', messages: [] }), OpenAI.BadRequestError, 400],
      [() => new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: 'sk-genie-wrong', maxRetries: 0 }).chat.completions.create({ model: 'bad-json', messages: ask }), OpenAI.AuthenticationError, 401],
      [() => capped.chat.completions.create({ model: 'bad-json', messages: ask }), OpenAI.APIError, 402],
      [() => client.chat.completions.create({ model: 'nobody-serves-this', messages: ask }), OpenAI.NotFoundError, 404],
      [
        () => client.chat.completions
          .create({ model: 'bad-json', messages: ask, seed: 1 }, { headers: { 'Idempotency-Key': key } })
          .then(() => client.chat.completions.create({ model: 'bad-json', messages: ask, seed: 2 }, { headers: { 'Idempotency-Key': key } })),
        OpenAI.ConflictError,
        409,
      ],
      [() => client.chat.completions.create({ model: 'bad-json', messages: ask, response_format: strict }), OpenAI.InternalServerError, 500],
    ];
    for (const [call, cls, status] of cases) {
      const err = await call().then(() => null, (e) => e);
      expect(err).toBeInstanceOf(cls);
      expect((err as { status: number }).status).toBe(status);
    }
    // 429: every node serving the model is saturated (by its probed queue) for the whole admission wait.
    const backlog = Array.from({ length: 16 }, () =>
      fetch(`${full.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'full-model', messages: ask }) }).catch(() => undefined),
    );
    const until = Date.now() + 15_000;
    for (;;) {
      const res = await fetch(`${genie.apiUrl}/admin/v1/nodes`, { headers: { authorization: `Bearer ${testStack().adminToken}` } });
      const nodes = ((await res.json()) as { data: Array<{ name: string; load: { waiting: number } | null }> }).data;
      if ((nodes.find((n) => n.name === 'full')?.load?.waiting ?? 0) >= 2) break;
      if (Date.now() > until) throw new Error('the probe never saw the backlog');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 700)); // every process re-reads the registry within 300 ms
    const limited = await client.chat.completions.create({ model: 'full-model', messages: ask, max_tokens: 1 }).then(() => null, (e) => e);
    expect({ status: (limited as { status?: number } | null)?.status, message: (limited as Error | null)?.message }).toMatchObject({ status: 429 });
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as { headers: Headers }).headers.get('retry-after')).toBe('1');
    // Async jobs queue instead of being refused.
    const queued = await fetch(`${genie.apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
      body: JSON.stringify({ model: 'full-model', mode: 'async', messages: ask, max_tokens: 1 }),
    });
    expect(queued.status).toBe(202);
    void backlog;

    // 503 once the probe has marked the unreachable node down.
    const end = Date.now() + 15_000;
    let last: unknown;
    while (Date.now() < end) {
      last = await client.chat.completions.create({ model: 'gone-model', messages: ask }).then(() => null, (e) => e);
      if ((last as { status?: number })?.status === 503) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last).toBeInstanceOf(OpenAI.InternalServerError); // the SDK's class for every 5xx
    expect((last as { status: number }).status).toBe(503);
    expect((last as { type: string }).type).toBe('service_unavailable');
  });
});
