import OpenAI from 'openai';
import { startSimulator } from '../../../simulator/server.js';
import { closedCompletion } from '../../support/history.js';
import { testStack } from '../../support/stack.js';
import { admin, client, extras, genie, node, placement, say, triton, until, usageAddsUp } from './fleet.js';

/** A real Triton behind Genie. */
export function tritonBehindGenie(): void {
  describe('a real Triton behind Genie', () => {
    it('judges readiness per model: one model that failed to load leaves the node and its other models up', async () => {
      expect((await fetch(`${triton.url}/v2/health/ready`)).status).toBe(400); // strict readiness
      const t = await node('real-triton');
      expect(t).toMatchObject({ healthy: true, state: 'active' });
      expect(t.models.sort()).toEqual(['qwen3:1k', 'qwen3:8b', 'qwen3:slow', 'tiny-triton']);
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

    it('fits Genie’s default max_tokens to a Triton model’s configured context length; a caller’s beyond it is Genie’s 400', async () => {
      expect((await node('real-triton')).contextLengths).toEqual({ 'qwen3:1k': 1024 });
      // The engine refuses what Genie used to send: its default 4096 beside any prompt.
      const direct = await fetch(`${triton.url}/v2/models/qwen3:1k/generate_stream`, { method: 'POST', body: JSON.stringify({ text_input: 'hi', max_tokens: 4096, stream: true }) });
      expect(await direct.text()).toContain('exceeds maxSequenceLen (1024)');

      // No max_tokens from the caller: what the context leaves beside the prompt's bound is sent.
      const res = await client.chat.completions.create({ model: 'qwen3:1k', messages: say });
      usageAddsUp(res.usage);
      expect(res.choices[0].finish_reason).toBe('length');
      expect(res.usage!.completion_tokens).toBeGreaterThan(500);
      expect(res.usage!.completion_tokens).toBeLessThan(1024);

      const err = await client.chat.completions.create({ model: 'qwen3:1k', messages: say, max_tokens: 2000 }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.param).toBe('max_tokens');
      expect(err.code).toBe('context_length_exceeded');
      expect(err.message).toContain('context length of 1024');
    });

    it('a failure after a few streamed tokens: those tokens, then an inline [error] and finish_reason "error", no failover', async () => {
      // The stand-in answers an error response after N tokens when the prompt says #fail-after:N.
      const stream = await client.chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'go on #fail-after:3 please' }], max_tokens: 10, stream: true });
      const contents: string[] = [];
      let finish: string | null = null;
      let id = '';
      for await (const c of stream) {
        id = c.id;
        if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      expect(contents).toHaveLength(4);
      for (const word of contents.slice(0, 3)) expect(word).toMatch(/^ [a-z]+$/);
      expect(contents[3]).toMatch(/^\[error\] \d{3} .*failed after 3 tokens/);
      expect(finish).toBe('error');
      const run = await closedCompletion(id);
      expect(run.node).toBe('real-triton');
      expect(run.steps).not.toContain('selectNode'); // no other node was asked once tokens were sent
    });

    it('applies a stop word on Triton: the answer ends at its first occurrence', async () => {
      const messages = [{ role: 'user' as const, content: 'list some words' }];
      const full = await client.chat.completions.create({ model: 'qwen3:8b', messages, max_tokens: 8, seed: 11 });
      expect(full.usage!.completion_tokens).toBe(8);
      const words = full.choices[0].message.content!.trim().split(/\s+/);
      // The output is deterministic from (prompt, seed): stop at a word's first occurrence past the first.
      const at = words.findIndex((w, i) => i >= 2 && i < 7 && words.indexOf(w) === i);
      expect(at).toBeGreaterThan(0);
      const stopped = await client.chat.completions.create({ model: 'qwen3:8b', messages, max_tokens: 8, seed: 11, stop: [words[at]] });
      expect(stopped.usage!.completion_tokens).toBe(at + 1); // TensorRT-LLM counts (and emits) the stop word
      expect(stopped.choices[0].finish_reason).toBe('stop');
      expect(stopped.choices[0].message.content!.trim().split(/\s+/).slice(0, at)).toEqual(words.slice(0, at));
    });

    it('a seed of 2^64 or more is a 400 naming seed, before any node call', async () => {
      const res = await fetch(`${genie.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
        // Written out: JSON.stringify cannot carry an integer this large exactly.
        body: `{"model":"qwen3:8b","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"seed":18446744073709551616}`,
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { param: string; type: string } }).error).toMatchObject({ param: 'seed', type: 'invalid_request_error' });
    });
  });
}
