import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { ROOT } from '../../workers/stack/processes.js';
import { startTriton, type TritonServer } from '../support/engines/triton.js';
import { startVllm, type VllmServer } from '../support/engines/vllm.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { ledgerCheck } from '../support/budget-check.js';
import { temporalClient, testStack, withDb } from '../support/stack.js';
import { awayFromWindowReset, createTenant, putCap, putPrice } from '../support/tenants.js';

// Genie on real engines (issue 14): a real vLLM (CPU build, a tiny random-weight Qwen2 the harness
// makes) and a real Triton 2.51 (decoupled Python models shaped like TensorRT-LLM's ensemble and the
// vLLM backend), through the official SDK. Random weights write gibberish: the assertions are about
// shapes, usage arithmetic and error mapping, never about text.

let vllm: VllmServer;
let triton: TritonServer;
let genie: IsolatedGenie;
let client: OpenAI;
const extras: Simulator[] = [];

const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${genie.apiUrl}/admin/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
};
interface NodeView {
  id: string;
  name: string;
  healthy: boolean;
  state: string;
  models: string[];
  modelInfo: Record<string, { contextLength?: number; served?: string; inputs?: string[] }>;
  load: { running: number | null; waiting: number | null; kvCacheUsage: number | null; finished: number | null } | null;
  lastProbe: { error?: string | null } | null;
}
const nodes = async () => (await admin('GET', '/nodes')).json.data as NodeView[];
const node = async (name: string) => (await nodes()).find((n) => n.name === name)!;
const until = async (what: string, check: () => Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};
const placement = async (id: string) => {
  const { client: temporal, close } = await temporalClient();
  try {
    const handle = temporal.workflow.getHandle(id);
    await handle.result();
    return (await handle.describe()).searchAttributes.GenieNode?.[0];
  } finally {
    await close();
  }
};
const usageAddsUp = (u: OpenAI.CompletionUsage | undefined | null) => {
  expect(u).toBeTruthy();
  expect(u!.prompt_tokens).toBeGreaterThan(0);
  expect(u!.total_tokens).toBe(u!.prompt_tokens + u!.completion_tokens);
};
const say = [{ role: 'user' as const, content: 'Say hi' }];

beforeAll(async () => {
  [vllm, triton] = await Promise.all([
    startVllm({ maxModelLen: 1024, servedModelName: 'tiny-vllm' }),
    startTriton({
      models: [
        { name: 'qwen3:8b', kind: 'trtllm', contextLimit: 8192 },
        { name: 'vllm-shaped', kind: 'vllm-backend', contextLimit: 8192 },
        { name: 'broken', kind: 'broken' },
        // Slow enough for a probe to see it generating (it publishes TensorRT-LLM's request gauges).
        { name: 'qwen3:slow', kind: 'trtllm', contextLimit: 8192, tokenDelayMs: 150 },
      ],
    }),
  ]);
  // The Triton repository cannot name a model after Genie's id here: the node maps it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-engines-'));
  const file = path.join(dir, 'nodes.json');
  writeFileSync(
    file,
    JSON.stringify([
      { name: 'real-vllm', engine: 'vllm', url: vllm.url },
      { name: 'real-triton', engine: 'triton', url: triton.url, metricsUrl: `${triton.metricsUrl}/metrics`, modelNames: { 'tiny-triton': 'vllm-shaped' } },
    ]),
  );
  genie = await startIsolatedGenie({ nodes: '', apis: 2, env: { GENIE_NODES_FILE: file, GENIE_PROBE_TIMEOUT_MS: '20000', GENIE_NODE_TIMEOUT_MS: '120000' } });
  client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0, timeout: 120_000 });
  await until('both real nodes probed healthy', async () => {
    const [v, t] = [await node('real-vllm'), await node('real-triton')];
    return Boolean(v?.healthy && t?.healthy && v.models.includes('tiny-vllm') && t.models.includes('tiny-triton'));
  }, 120_000);
}, 600_000);

afterAll(async () => {
  await genie?.stop();
  await Promise.all([vllm?.stop(), triton?.stop(), ...extras.map((s) => s.close())]);
}, 120_000);

describe('a real vLLM behind Genie', () => {
  it('learns the model’s context length from the node, and its load from one series per engine', async () => {
    const v = await node('real-vllm');
    expect(v.modelInfo['tiny-vllm']).toMatchObject({ contextLength: 1024 });
    expect(v.load).toMatchObject({ running: expect.any(Number), waiting: expect.any(Number), kvCacheUsage: expect.any(Number) });
  });

  it('sync without max_tokens: Genie does not send a default beyond the context (vLLM would refuse 4096 > 1024)', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, temperature: 0 });
    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(['stop', 'length']).toContain(res.choices[0].finish_reason);
    expect(typeof res.choices[0].message.content).toBe('string');
    usageAddsUp(res.usage);
    // The engine counts the chat template: far more than Genie's estimate of the bare messages.
    expect(res.usage!.prompt_tokens).toBeGreaterThan(estimatePromptTokens(say));
  });

  it('a caller’s max_tokens beyond the context is Genie’s own 400 naming max_tokens, before any node call', async () => {
    const err = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('max_tokens');
    expect(err.code).toBe('context_length_exceeded');
    expect(err.message).toContain('context length of 1024');
  });

  it('streams with usage: role chunk first, deltas, a finish reason, a usage chunk that adds up', async () => {
    const stream = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
    expect(finish).toHaveLength(1);
    expect(['stop', 'length']).toContain(finish[0]);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    usageAddsUp(last.usage);
    expect(last.usage!.completion_tokens).toBeLessThanOrEqual(12);
  });

  it('a node’s refusal of a stream is a plain OpenAI error with its status and param, not a 200 stream', async () => {
    const long = [{ role: 'user' as const, content: 'many words go here '.repeat(300) }];
    const err = await client.chat.completions.create({ model: 'tiny-vllm', messages: long, max_tokens: 4, stream: true }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.status).toBe(400);
    expect(err.param).toBe('input_tokens');
    expect(err.message).toMatch(/maximum context length is 1024 tokens/);
  });

  it('async: 202, then the job completes with the sync body', async () => {
    const res = await fetch(`${genie.apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
      body: JSON.stringify({ model: 'tiny-vllm', mode: 'async', messages: say, max_tokens: 6 }),
    });
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { poll_url: string };
    let job: { status: string; result?: OpenAI.ChatCompletion; error?: unknown };
    await until('the job to finish', async () => {
      job = (await (await fetch(`${genie.apiUrl}${accepted.poll_url}`, { headers: { authorization: `Bearer ${testStack().apiKey}` } })).json()) as typeof job;
      return job.status === 'completed' || job.status === 'failed';
    });
    expect(job!.status).toBe('completed');
    usageAddsUp(job!.result!.usage);
  });

  const weather = {
    type: 'function' as const,
    function: {
      name: 'get_weather',
      strict: true,
      parameters: { type: 'object', properties: { unit: { type: 'string', enum: ['c', 'f'] } }, required: ['unit'], additionalProperties: false },
    },
  };

  it('a strict tool forced by name: OpenAI’s shape (content null), the engine’s id and finish reason accepted', async () => {
    const res = await client.chat.completions.create({
      model: 'tiny-vllm',
      messages: say,
      tools: [weather],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
      max_tokens: 200,
      temperature: 0,
    });
    const message = res.choices[0].message;
    expect(message.content).toBeNull(); // vLLM sent "" beside the call
    expect(message.tool_calls).toHaveLength(1);
    const call = message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.id).toMatch(/^(call_|chatcmpl-tool-)\w+/);
    expect(call.function.name).toBe('get_weather');
    expect(['c', 'f']).toContain(JSON.parse(call.function.arguments).unit);
    // OpenAI and vLLM both finish a call forced by name with "stop".
    expect(res.choices[0].finish_reason).toBe('stop');
    // The tool schema is part of the prompt the engine counts.
    expect(res.usage!.prompt_tokens).toBeGreaterThan(estimatePromptTokens(say) + 50);
  });

  it('tool_choice "required" finishes with "tool_calls"; a stream carries the call as deltas', async () => {
    const res = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, tools: [weather], tool_choice: 'required', parallel_tool_calls: false, max_tokens: 200, temperature: 0 });
    expect(res.choices[0].finish_reason).toBe('tool_calls');
    expect(res.choices[0].message.tool_calls![0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });

    const stream = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, tools: [weather], tool_choice: 'required', parallel_tool_calls: false, max_tokens: 200, temperature: 0, stream: true });
    let args = '';
    let name = '';
    for await (const c of stream) {
      for (const t of c.choices[0]?.delta.tool_calls ?? []) {
        name ||= t.function?.name ?? '';
        args += t.function?.arguments ?? '';
      }
    }
    expect(name).toBe('get_weather');
    expect(['c', 'f']).toContain(JSON.parse(args).unit);
  });

  it('a strict json_schema answer parses and obeys its enum', async () => {
    const res = await client.chat.completions.create({
      model: 'tiny-vllm',
      messages: say,
      max_tokens: 60,
      temperature: 0,
      response_format: { type: 'json_schema', json_schema: { name: 'color', strict: true, schema: { type: 'object', properties: { color: { type: 'string', enum: ['red', 'green'] } }, required: ['color'], additionalProperties: false } } },
    });
    expect(['red', 'green']).toContain(JSON.parse(res.choices[0].message.content!).color);
  });

  it('requests spaced like vLLM’s 5 s idle close never land on a socket it is closing', async () => {
    // The engine closes an idle connection after exactly 5 s; Genie retires its own at 4 s. Gaps
    // around 5 s are the ones that raced (ECONNRESET, the node marked suspect, a false 503).
    for (const gap of [4_900, 5_000, 5_100]) {
      await new Promise((r) => setTimeout(r, gap)); // the idle time is what this test is about
      const res = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 2 });
      usageAddsUp(res.usage);
    }
    const v = await node('real-vllm');
    expect(v.healthy).toBe(true);
  }, 90_000);
});

describe('the official Python openai package against the real vLLM', () => {
  it('runs sync, stream and a strict tools round trip', () => {
    const r = spawnSync(path.join(ROOT, '.venv/bin/python'), [path.join(ROOT, 'test/python/openai_client.py')], {
      env: { ...process.env, GENIE_BASE_URL: `${genie.apiUrl}/v1`, GENIE_API_KEY: testStack().apiKey, GENIE_MODEL: 'tiny-vllm', GENIE_REAL_ENGINE: '1' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(typeof out.sync).toBe('string');
    expect(['stop', 'length']).toContain(out.stream_finish);
    expect(out).toMatchObject({ tool_finish: 'tool_calls', tool_name: 'lookup' });
    expect(['a', 'b']).toContain(out.tool_args.q);
    expect(['stop', 'length']).toContain(out.final_finish);
  });
});

describe('budgets against a real engine’s token counts', () => {
  it('a race of 300 across two APIs against one cap on the real vLLM: spend ≤ cap, nothing left reserved, the ledger agrees', async () => {
    await awayFromWindowReset();
    // The engine counts the chat template (43 tokens for "Say hi"), Genie's estimate says 8: the
    // reservation must hold the engine's count, whatever it is.
    await putPrice('tiny-vllm', 1_000_000, 2_000_000);
    try {
      const t = await createTenant();
      const cap = 2_000;
      await putCap('org', t.orgId, 'day', cap);
      const clients = genie.apiUrls.map((url) => new OpenAI({ baseURL: `${url}/v1`, apiKey: t.apiKey, maxRetries: 0, timeout: 120_000 }));
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          clients[i % clients.length].chat.completions
            .create({ model: 'tiny-vllm', messages: [{ role: 'user', content: `race ${i}` }], max_tokens: 8 })
            .then((r) => ({ status: 200, usage: r.usage! }), (e) => ({ status: e.status as number, usage: null })),
        ),
      );
      expect(results.filter((r) => r.status !== 200 && r.status !== 402)).toEqual([]);
      const ok = results.filter((r) => r.status === 200);
      expect(ok.length).toBeGreaterThan(0);
      expect(results.some((r) => r.status === 402)).toBe(true);
      const billed = ok.reduce((n, r) => n + r.usage!.prompt_tokens + 2 * r.usage!.completion_tokens, 0);
      let counters: { spent: number; reserved: number } | undefined;
      await until('every settlement', async () => {
        counters = (await withDb((db) => db.query(`select spent_micro_usd::int as spent, reserved_micro_usd::int as reserved from cap_usage where layer = 'org' and subject_id = $1`, [t.orgId]))).rows[0];
        return counters?.reserved === 0;
      });
      expect(counters!.spent).toBe(billed); // what the engine counted, booked
      expect(counters!.spent).toBeLessThanOrEqual(cap);
      expect(ledgerCheck().ok).toBe(true);
    } finally {
      await putPrice('tiny-vllm', 0, 0);
    }
  });
});

describe('the simulator answers like the real vLLM where tests rely on it', () => {
  const ask = (url: string, body: unknown) =>
    fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  it('refuses the same requests with the same status, type, param and message', async () => {
    const sim = await startSimulator({ port: 0, models: ['tiny-vllm'], maxModelLen: 1024 });
    extras.push(sim);
    for (const body of [
      { model: 'tiny-vllm', messages: say, max_tokens: 5000 },
      { model: 'tiny-vllm', messages: say, max_tokens: 5000, stream: true },
    ]) {
      const [real, simulated] = [await ask(vllm.url, body), await ask(sim.url, body)];
      expect(simulated).toEqual(real);
    }
    const [real, simulated] = [await ask(vllm.url, { model: 'nope', messages: say }), await ask(sim.url, { model: 'nope', messages: say })];
    expect(simulated.status).toBe(real.status);
    expect(simulated.body.error).toMatchObject({ type: real.body.error.type, param: real.body.error.param, code: real.body.error.code });
    const list = async (url: string) => ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ max_model_len: number }> }).data[0].max_model_len;
    expect(await list(sim.url)).toBe(await list(vllm.url));
  });
});

describe('the simulator answers like the real Triton where tests rely on it', () => {
  const call = async (base: string, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${base}${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type')?.split(';')[0] ?? null, body: text };
  };

  it('matches the raw path, strict readiness, parameter types and seed range as Triton does', async () => {
    const sim = await startSimulator({ engine: 'triton', port: 0, models: ['qwen3:8b', 'broken'], failLoadModel: ['broken'] });
    extras.push(sim);
    const same = async (method: string, route: string, body?: unknown) => {
      const [real, simulated] = [await call(triton.url, method, route, body), await call(sim.url, method, route, body)];
      expect({ route, ...simulated }).toEqual({ route, ...real });
    };
    await same('POST', '/v2/models/qwen3%3A8b/generate_stream', { text_input: 'hi', max_tokens: 2 });
    await same('POST', '/v2/models/qwen3:8b/generate_stream', { text_input: 'hi', max_tokens: 2, parameters: { stop: ['x'] } });
    await same('POST', '/v2/models/qwen3:8b/generate_stream', { text_input: 'hi', parameters: { max_tokens: 2, random_seed: -1 } });
    await same('GET', '/v2/models/broken/ready');
    expect((await call(sim.url, 'GET', '/v2/health/ready')).status).toBe((await call(triton.url, 'GET', '/v2/health/ready')).status);
    const states = async (base: string) =>
      ((await (await fetch(`${base}/v2/repository/index`, { method: 'POST', body: '{}' })).json()) as Array<{ name: string; state: string }>)
        .filter((m) => m.name === 'qwen3:8b' || m.name === 'broken')
        .map((m) => `${m.name}:${m.state}`)
        .sort();
    expect(await states(sim.url)).toEqual(await states(triton.url));
    // Metrics live on their own port, not on the HTTP one.
    expect((await fetch(`${sim.url}/metrics`)).status).toBeGreaterThanOrEqual(400);
    expect((await fetch(`${triton.url}/metrics`)).status).toBeGreaterThanOrEqual(400);
    expect((await fetch(sim.metricsUrl)).status).toBe(200);
  });
});

describe('a real Triton behind Genie', () => {
  it('judges readiness per model: one model that failed to load leaves the node and its other models up', async () => {
    expect((await fetch(`${triton.url}/v2/health/ready`)).status).toBe(400); // strict readiness
    const t = await node('real-triton');
    expect(t).toMatchObject({ healthy: true, state: 'active' });
    expect(t.models.sort()).toEqual(['qwen3:8b', 'qwen3:slow', 'tiny-triton']);
    // Inputs learned from each model's config, load from the metrics port.
    expect(t.modelInfo['qwen3:8b'].inputs).toEqual(expect.arrayContaining(['text_input', 'max_tokens', 'stop_words', 'random_seed']));
    expect(t.modelInfo['tiny-triton']).toMatchObject({ served: 'vllm-shaped', inputs: expect.arrayContaining(['sampling_parameters']) });
    expect(t.load?.finished).toEqual(expect.any(Number));
  });

  it('reads a load that moves while a stream is generating (Triton’s pending count stays 0 for decoupled models)', async () => {
    const stream = await client.chat.completions.create({ model: 'qwen3:slow', messages: say, max_tokens: 40, stream: true });
    const drained = (async () => {
      let n = 0;
      for await (const c of stream) if (c.choices[0]?.delta.content) n++;
      return n;
    })();
    await until('the probe to see the stream running', async () => ((await node('real-triton')).load?.running ?? 0) >= 1, 30_000);
    expect(await drained).toBe(40);
    await until('the probe to see it done', async () => (await node('real-triton')).load?.running === 0, 30_000);
  });

  it('serves a model whose name has a colon (raw in the path), sync and stream, with usage that adds up', async () => {
    const res = await client.chat.completions.create({ model: 'qwen3:8b', messages: say, max_tokens: 6 });
    expect(res.model).toBe('qwen3:8b');
    usageAddsUp(res.usage);
    expect(res.usage!.completion_tokens).toBe(6);
    expect(res.choices[0].finish_reason).toBe('length');

    const stream = await client.chat.completions.create({ model: 'qwen3:8b', messages: say, max_tokens: 5, stream: true, stream_options: { include_usage: true } });
    let deltas = 0;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) deltas++;
      usage = c.usage ?? usage;
    }
    usageAddsUp(usage);
    expect(usage!.completion_tokens).toBe(deltas);
  });

  it('sends stop words and seeds the way each model takes them (TensorRT-LLM inputs, vLLM backend sampling_parameters)', async () => {
    // A list stop as a request parameter was a 400, a negative seed into UINT64 random_seed a 500.
    const trt = await client.chat.completions.create({ model: 'qwen3:8b', messages: say, max_tokens: 8, stop: ['zzz'], seed: -7 });
    usageAddsUp(trt.usage);
    // The vLLM backend ignores max_tokens outside sampling_parameters (its default is 16 tokens).
    const shaped = await client.chat.completions.create({ model: 'tiny-triton', messages: say, max_tokens: 5, stop: ['zzz'], seed: -7 });
    expect(shaped.model).toBe('tiny-triton');
    expect(shaped.usage!.completion_tokens).toBe(5);
  });

  it('an engine failure before the first token (Triton’s 400 SSE body) is a server error that fails over', async () => {
    // The harness model answers an error response before any token when the prompt says #error.
    const failing = [{ role: 'user' as const, content: 'please #error now' }];
    const alone = await client.chat.completions.create({ model: 'qwen3:8b', messages: failing, max_tokens: 3 }).catch((e) => e);
    expect(alone).toBeInstanceOf(OpenAI.InternalServerError);
    expect(alone.message).toContain('#error in the prompt');
    expect(alone.message).not.toMatch(/^data:/);

    const backup = await startSimulator({ engine: 'triton', port: 0, models: ['qwen3:8b'] });
    extras.push(backup);
    const added = await admin('POST', '/nodes', { name: 'sim-triton', url: backup.url, engine: 'triton', metricsUrl: backup.metricsUrl });
    expect(added.status).toBe(201);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await client.chat.completions.create({ model: 'qwen3:8b', messages: failing, max_tokens: 3 });
        ids.push(res.id);
      }
      // Wherever the first attempt went, every completion ended on the node that could serve it.
      for (const id of ids) expect(await placement(id)).toBe('sim-triton');
    } finally {
      await admin('DELETE', `/nodes/${added.json.id}`);
    }
  });
});

describe('load-aware routing across a real and a simulated node', () => {
  it('a saturated simulator beside the real vLLM gets nothing new', async () => {
    const busy = await startSimulator({ port: 0, models: ['tiny-vllm'], maxNumSeqs: 1, timeToFirstToken: 500 });
    extras.push(busy);
    const backlog = Array.from({ length: 20 }, () =>
      fetch(`${busy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-vllm', messages: say }) }),
    );
    const added = await admin('POST', '/nodes', { name: 'sim-busy', url: busy.url, engine: 'vllm' });
    try {
      await until('the probe to see the backlog', async () => ((await node('sim-busy'))?.load?.waiting ?? 0) >= 5);
      await new Promise((r) => setTimeout(r, 700)); // every process re-reads the registry within 300 ms
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push((await client.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 2 })).id);
      for (const id of ids) expect(await placement(id)).toBe('real-vllm');
    } finally {
      await admin('DELETE', `/nodes/${added.json.id}`);
      await Promise.all(backlog);
    }
  });
});
