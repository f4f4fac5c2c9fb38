import { spawnSync } from 'node:child_process';
import path from 'node:path';
import OpenAI from 'openai';
import { estimatePromptTokens } from '../../../protocol/token-estimate.js';
import { ROOT } from '../../../workers/stack/processes.js';
import { testStack } from '../../support/stack.js';
import { parseExposition } from '../../support/prometheus.js';
import { startIsolatedGenie } from '../../support/genie.js';
import { closedCompletion } from '../../support/history.js';
import { client, genie, node, say, until, usageAddsUp, vllm, type NodeView } from './fleet.js';

/** A real vLLM behind Genie, through the JS and the Python SDK. */
export function vllmBehindGenie(): void {
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
      // vLLM refuses such a request in its HTTP layer, so its engine counters (vllm:request_success_total,
      // prompt tokens) would not move either way, and the prober's pings move them every second: the HTTP
      // server's own count of refused chat requests is what a node call would move.
      const refusedByVllm = async () =>
        parseExposition(await (await fetch(`${vllm.url}/metrics`)).text())
          .filter((x) => x.name === 'http_requests_total' && x.labels.handler === '/v1/chat/completions' && x.labels.status === '4xx')
          .reduce((n, x) => n + x.value, 0);
      const before = await refusedByVllm();
      const err = await client.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 5000 }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe('max_tokens');
      expect(err.code).toBe('context_length_exceeded');
      expect(err.message).toContain('context length of 1024');
      expect(await refusedByVllm()).toBe(before);
      // The counter would have seen it: the same request sent to vLLM itself moves it by one.
      const direct = await fetch(`${vllm.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'tiny-vllm', messages: say, max_tokens: 5000 }) });
      expect(direct.status).toBe(400);
      expect(await refusedByVllm()).toBe(before + 1);
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

    it('with idle sockets kept past vLLM’s 5 s close, a request on a socket uvicorn is closing is sent again on a fresh one', async () => {
      // A Genie of its own whose pools keep idle sockets for a minute: every request below reuses the
      // socket of the one before, which uvicorn closes after 5 s idle. Near 5 s the request goes out as the
      // server closes it (reset before any answer): the one retry on a fresh socket must make that
      // invisible — no error, no failover, the node not marked suspect.
      const own = await startIsolatedGenie({ nodes: `keepalive-vllm:vllm=${vllm.url}`, env: { GENIE_NODE_IDLE_SOCKET_MS: '60000', GENIE_PROBE_TIMEOUT_MS: '20000', GENIE_PROBE_INTERVAL_MS: '2000' } });
      try {
        const ownClient = new OpenAI({ baseURL: `${own.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0, timeout: 60_000 });
        const ownNode = async () =>
          ((await (await fetch(`${own.apiUrl}/admin/v1/nodes`, { headers: { authorization: `Bearer ${testStack().adminToken}` } })).json()) as { data: NodeView[] }).data[0];
        await until('its node probed healthy', async () => Boolean((await ownNode())?.healthy), 60_000);
        await ownClient.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 1 }); // opens the socket
        for (const gap of [4_990, 5_000, 5_010, 5_040]) {
          await new Promise((r) => setTimeout(r, gap)); // the idle time is what this test is about
          const res = await ownClient.chat.completions.create({ model: 'tiny-vllm', messages: say, max_tokens: 1 });
          usageAddsUp(res.usage);
          const run = await closedCompletion(res.id);
          expect(run.steps).not.toContain('selectNode');
        }
        const n = await ownNode();
        expect(n.healthy).toBe(true);
        expect((n.lastProbe as { suspect?: boolean } | null)?.suspect).toBeUndefined();
      } finally {
        await own.stop();
      }
    }, 240_000);
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
}
