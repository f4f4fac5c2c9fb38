import { startSimulator, type Simulator } from '../../simulator/server.js';
import { generateTokens } from '../../simulator/text.js';
import { countPromptTokens } from '../../simulator/prompt-tokens.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { parseSimulatorArgs } from '../../simulator/options.js';

const post = (sim: Simulator, body: unknown) =>
  fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('node simulator', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['m1', 'broken:latest'], failLoadModel: ['broken:latest'] });
  });
  afterAll(() => sim.close());

  it('generates text deterministically from (seed, prompt)', () => {
    const msgs = [{ role: 'user', content: 'hello' }];
    expect(generateTokens(1, msgs)).toEqual(generateTokens(1, msgs));
    expect(generateTokens(1, msgs).tokens.join('')).not.toBe(generateTokens(2, msgs).tokens.join(''));
    expect(generateTokens(1, [{ role: 'user', content: 'other' }]).tokens.join('')).not.toBe(generateTokens(1, msgs).tokens.join(''));
  });

  it('answers vLLM’s sync shape with usage from what it emitted', async () => {
    const messages = [{ role: 'user', content: 'hello there' }];
    const res = await post(sim, { model: 'm1', messages, seed: 4, max_tokens: 5 });
    const body = (await res.json()) as { choices: Array<{ message: { content: string } }>; usage: unknown };
    expect(res.status).toBe(200);
    expect(body.choices[0].message.content).toBe(generateTokens(4, messages, 5).tokens.join(''));
    const prompt = countPromptTokens({ messages });
    expect(body.usage).toEqual({ prompt_tokens: prompt, completion_tokens: 5, total_tokens: prompt + 5 });
  });

  it('counts prompt tokens as an engine does: the chat template and tool schemas, not Genie’s estimate', async () => {
    const messages = [{ role: 'user', content: 'Say hi' }];
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const plain = ((await (await post(sim, { model: 'm1', messages, max_tokens: 1 })).json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    const withTools = ((await (await post(sim, { model: 'm1', messages, tools, max_tokens: 1 })).json()) as { usage: { prompt_tokens: number } }).usage.prompt_tokens;
    // A real vLLM counted 43 and 314 for these with a Qwen2.5 template; Genie's estimate says 8 for both.
    expect(plain).toBeGreaterThan(2 * estimatePromptTokens(messages));
    expect(withTools).toBeGreaterThan(plain + 50);
  });

  it('refuses what the context length cannot hold, as vLLM 0.32 does (status, message, param)', async () => {
    const small = await startSimulator({ port: 0, models: ['m'], maxModelLen: 64 });
    try {
      const models = (await (await fetch(`${small.url}/v1/models`)).json()) as { data: Array<{ max_model_len: number }> };
      expect(models.data[0].max_model_len).toBe(64);
      const over = await post(small, { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 65 });
      expect(over.status).toBe(400);
      expect(((await over.json()) as { error: unknown }).error).toEqual({
        message: 'max_tokens=65 cannot be greater than max_model_len=64. Please request fewer output tokens. (parameter=max_tokens, value=65)',
        type: 'BadRequestError',
        param: 'max_tokens',
        code: 400,
      });
      const long = await post(small, { model: 'm', messages: [{ role: 'user', content: 'many words '.repeat(80) }], stream: true });
      expect(long.status).toBe(400); // refused before any SSE
      expect(((await long.json()) as { error: { param: string } }).error.param).toBe('input_tokens');
      // Each fits, together they do not: accepted, the output stops where the context ends.
      expect((await post(small, { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 60 })).status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('closes idle keep-alive connections after its timeout, as uvicorn does after 5 s', async () => {
    const quick = await startSimulator({ port: 0, models: ['m'], keepAliveTimeoutMs: 200 });
    try {
      const http = await import('node:http');
      const agent = new http.Agent({ keepAlive: true });
      const once = () =>
        new Promise<import('node:net').Socket>((resolve, reject) => {
          const req = http.request(`${quick.url}/health`, { agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(req.socket!));
          });
          req.on('error', reject);
          req.end();
        });
      const socket = await once();
      const closed = await new Promise<boolean>((resolve) => {
        socket.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 10_000);
      });
      expect(closed).toBe(true);
      agent.destroy();
    } finally {
      await quick.close();
    }
  });

  it('fails a model that cannot load with vLLM’s 500 error body; a stream reports it as an error event after the 200', async () => {
    const res = await post(sim, { model: 'broken:latest', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('model failed to load: broken:latest');
    const stream = await post(sim, { model: 'broken:latest', messages: [{ role: 'user', content: 'x' }], stream: true });
    expect(stream.status).toBe(200);
    expect(await stream.text()).toContain('"message":"model failed to load: broken:latest"');
  });

  it('404s a model it does not serve, naming param "model" as vLLM does', async () => {
    const res = await post(sim, { model: 'nope', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('model');
  });

  it('exposes load metrics under vLLM’s names and counts successes', async () => {
    await post(sim, { model: 'm1', messages: [{ role: 'user', content: 'count me' }] });
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    // One series per engine (vLLM's `engine="0"`), however many names it serves: never one per model.
    expect(text.match(/^vllm:num_requests_running\{/gm)).toHaveLength(1);
    expect(text).toMatch(/vllm:num_requests_running\{model_name="m1",engine="0"\} 0/);
    expect(text).toMatch(/vllm:num_requests_waiting\{model_name="m1",engine="0"\} 0/);
    expect(text).toMatch(/vllm:kv_cache_usage_perc\{model_name="m1",engine="0"\} 0/);
    expect(text).toMatch(/vllm:request_success_total\{model_name="m1",finished_reason="stop"\} [1-9]/);
  });

  it('queues beyond --max-num-seqs and reports the waiting requests', async () => {
    const slow = await startSimulator({ port: 0, models: ['m'], maxNumSeqs: 1, timeToFirstToken: 300 });
    try {
      const first = post(slow, { model: 'm', messages: [{ role: 'user', content: 'a' }] });
      const second = post(slow, { model: 'm', messages: [{ role: 'user', content: 'b' }] });
      await new Promise((r) => setTimeout(r, 100));
      const text = await (await fetch(`${slow.url}/metrics`)).text();
      expect(text).toMatch(/vllm:num_requests_running\{model_name="m",engine="0"\} 1/);
      expect(text).toMatch(/vllm:num_requests_waiting\{model_name="m",engine="0"\} 1/);
      await Promise.all([first, second]);
    } finally {
      await slow.close();
    }
  });

  it('injects failures at the configured rate', async () => {
    const flaky = await startSimulator({ port: 0, models: ['m'], failureInjectionRate: 100 });
    try {
      const res = await post(flaky, { model: 'm', messages: [{ role: 'user', content: 'a' }] });
      expect(res.status).toBe(500);
    } finally {
      await flaky.close();
    }
  });

  it('parses llm-d-style flags', () => {
    const opts = parseSimulatorArgs(['--port', '0', '--models', 'a,b', '--time-to-first-token', '20', '--max-num-seqs', '4', '--fail-load-model', 'b', '--hang']);
    expect(opts).toMatchObject({ port: 0, models: ['a', 'b'], timeToFirstToken: 20, maxNumSeqs: 4, failLoadModel: ['b'], hang: true });
    expect(parseSimulatorArgs(['--stall-after', '3', '--ignore-eos', '--token-bytes', '4096'])).toMatchObject({ stallAfter: 3, ignoreEos: true, tokenBytes: 4096 });
    expect(parseSimulatorArgs(['--help'])).toBe('help');
  });
});
