import OpenAI from 'openai';
import { renderChat } from '../../activities/inference/chat-templates.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { generateTokens } from '../../simulator/text.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { openai, testStack } from '../support/stack.js';

// The Triton path, with the official OpenAI SDK as the client: Genie renders the chat with the model's
// template, calls the KServe v2 generate extension, and answers in OpenAI's shapes.

const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Name a GPU server.' },
];
const expectedText = (model: string, seed: number, maxTokens?: number) =>
  generateTokens(seed, [{ role: 'prompt', content: renderChat({ model, messages }) }], maxTokens ?? 4096).tokens.join('');

describe('Triton nodes', () => {
  it('renders the model family’s chat template', () => {
    expect(renderChat({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'hi' }] })).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(renderChat({ model: 'llama3.3:70b', messages: [{ role: 'developer', content: ' be kind ' }, { role: 'user', content: 'hi' }] })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nbe kind<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('sync through Triton: the node’s text, counted usage, the resolved model id for a persona', async () => {
    const res = await openai().chat.completions.create({ model: 'pro', messages, seed: 3 });
    expect(res.model).toBe('llama3.3:70b');
    expect(res.choices[0].message.content).toBe(expectedText('llama3.3:70b', 3));
    expect(res.usage?.completion_tokens).toBe(generateTokens(3, [{ role: 'prompt', content: renderChat({ model: 'llama3.3:70b', messages }) }], 4096).tokens.length);
  });

  it('stream through Triton matches sync and carries usage when asked', async () => {
    const stream = await openai().chat.completions.create({ model: 'llama3.3:70b', messages, seed: 4, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage = null;
    let finish = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
      usage = c.usage ?? usage;
    }
    expect(text).toBe(expectedText('llama3.3:70b', 4));
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ completion_tokens: expect.any(Number) });
  });

  it('lists personas with persona_of, and an admin can repoint one', async () => {
    const list = await openai().models.list();
    expect(list.data).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'lite', object: 'model', owned_by: 'genie', persona_of: 'qwen3:0.6b' })]));
    expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['llama3.3:70b', 'lite', 'standard', 'pro', 'coder', 'heavy']));
    const put = (model: string) =>
      fetch(`${testStack().apiUrl}/admin/v1/personas/heavy`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
        body: JSON.stringify({ model }),
      });
    expect((await put('qwen3:0.6b')).status).toBe(200);
    try {
      await new Promise((r) => setTimeout(r, 3100)); // the API's persona cache lives 3 s
      expect((await openai().chat.completions.create({ model: 'heavy', messages })).model).toBe('qwen3:0.6b');
    } finally {
      await put('llama3.3:70b');
    }
  });
});

describe('Triton failures', () => {
  let midStream: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    midStream = await startSimulator({ engine: 'triton', port: 0, models: ['tri-model', 'tri-broken'], failLoadModel: ['tri-broken'], failureInjectionRate: 100, failureTypes: ['mid_stream'] });
    genie = await startIsolatedGenie({ nodes: `tri:triton=${midStream.url}` });
  });
  afterAll(async () => {
    await genie?.stop();
    await midStream?.close();
  });

  it('an error event under HTTP 200 mid-stream becomes the inline error', async () => {
    const client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'tri-model', messages, stream: true });
    const contents: string[] = [];
    let finish = null;
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(contents.length).toBeGreaterThan(1);
    expect(contents.at(-1)).toBe('[error] 500 injected failure: generation aborted mid-stream');
    expect(finish).toBe('error');
  });

  it('a model that failed to load leaves the node up: its other models are served, that one is not (404)', async () => {
    // Strict readiness makes the whole server's /v2/health/ready answer 400 here; Genie judges per model.
    expect((await fetch(`${midStream.url}/v2/health/ready`)).status).toBe(400);
    const client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'tri-broken', messages }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('model_not_found');
    const nodes = (await (await fetch(`${genie.apiUrl}/admin/v1/nodes`, { headers: { authorization: `Bearer ${testStack().adminToken}` } })).json()) as { data: Array<{ healthy: boolean; state: string; models: string[] }> };
    expect(nodes.data[0]).toMatchObject({ healthy: true, state: 'active', models: ['tri-model'] });
  });
});
