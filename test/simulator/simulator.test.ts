import { startSimulator, type Simulator } from '../../simulator/server.js';
import { estimatePromptTokens, generateTokens } from '../../simulator/text.js';
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
    expect(body.usage).toEqual({ prompt_tokens: estimatePromptTokens(messages), completion_tokens: 5, total_tokens: estimatePromptTokens(messages) + 5 });
  });

  it('fails a model that cannot load with vLLM’s 500 error body', async () => {
    const res = await post(sim, { model: 'broken:latest', messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe('model failed to load: broken:latest');
  });

  it('404s a model it does not serve', async () => {
    expect((await post(sim, { model: 'nope', messages: [{ role: 'user', content: 'x' }] })).status).toBe(404);
  });

  it('exposes load metrics under vLLM’s names and counts successes', async () => {
    await post(sim, { model: 'm1', messages: [{ role: 'user', content: 'count me' }] });
    const text = await (await fetch(`${sim.url}/metrics`)).text();
    expect(text).toMatch(/vllm:num_requests_running\{model_name="m1"\} 0/);
    expect(text).toMatch(/vllm:num_requests_waiting\{model_name="m1"\} 0/);
    expect(text).toMatch(/vllm:kv_cache_usage_perc\{model_name="m1"\} 0/);
    expect(text).toMatch(/vllm:request_success_total\{model_name="m1",finished_reason="stop"\} [1-9]/);
  });

  it('queues beyond --max-num-seqs and reports the waiting requests', async () => {
    const slow = await startSimulator({ port: 0, models: ['m'], maxNumSeqs: 1, timeToFirstToken: 300 });
    try {
      const first = post(slow, { model: 'm', messages: [{ role: 'user', content: 'a' }] });
      const second = post(slow, { model: 'm', messages: [{ role: 'user', content: 'b' }] });
      await new Promise((r) => setTimeout(r, 100));
      const text = await (await fetch(`${slow.url}/metrics`)).text();
      expect(text).toMatch(/vllm:num_requests_running\{model_name="m"\} 1/);
      expect(text).toMatch(/vllm:num_requests_waiting\{model_name="m"\} 1/);
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
    expect(parseSimulatorArgs(['--help'])).toBe('help');
  });
});
