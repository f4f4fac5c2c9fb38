import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { sseData } from '../../../activities/inference/sse.js';
import { VllmClient } from '../../../activities/inference/vllm.js';
import { startSimulator, type Simulator } from '../../../simulator/server.js';
import { generateTokens } from '../../../simulator/text.js';

async function collect(chunks: string[]): Promise<string[]> {
  async function* source() {
    for (const c of chunks) yield new TextEncoder().encode(c);
  }
  const out: string[] = [];
  for await (const d of sseData(source())) out.push(d);
  return out;
}

describe('sseData', () => {
  it('reassembles events split anywhere, even inside a multi-byte character', async () => {
    const text = 'data: {"a":"héllo"}\n\ndata: [DONE]\n\n';
    const bytes = new TextEncoder().encode(text);
    async function* oneByteAtATime() {
      for (const b of bytes) yield new Uint8Array([b]);
    }
    const out: string[] = [];
    for await (const d of sseData(oneByteAtATime())) out.push(d);
    expect(out).toEqual(['{"a":"héllo"}', '[DONE]']);
  });

  it('handles CRLF line ends, multi-line data and comments', async () => {
    expect(await collect([': keep-alive\r\n\r\ndata: line1\r\ndata: line2\r\n\r\n'])).toEqual(['line1\nline2']);
  });

  it('yields the last event of a stream that ends without its blank line', async () => {
    expect(await collect(['data: first\n\n', 'data: last'])).toEqual(['first', 'last']);
  });
});

/** A TCP relay that re-chunks the node's bytes at odd sizes, as a proxy or a congested link would. */
async function rechunkingProxy(target: number, sizes: number[]): Promise<{ port: number; close(): void }> {
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let i = 0;
    let flushing = false;
    const flush = () => {
      if (flushing) return;
      flushing = true;
      const step = () => {
        if (pending.length === 0) {
          flushing = false;
          return;
        }
        const n = sizes[i++ % sizes.length];
        client.write(pending.subarray(0, n));
        pending = pending.subarray(n);
        setImmediate(step);
      };
      step();
    };
    upstream.on('data', (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      flush();
    });
    upstream.on('end', () => {
      const wait = () => (pending.length || flushing ? setTimeout(wait, 2) : client.end());
      wait();
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

describe('vLLM client streaming through a link that splits bytes at odd boundaries', () => {
  let sim: Simulator;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['qwen3:0.6b'] });
  });
  afterAll(() => sim.close());

  it.each([[[1]], [[3, 7, 1]], [[13, 2, 5, 64]]])('decodes every chunk with split sizes %j', async (sizes) => {
    const proxy = await rechunkingProxy(sim.port, sizes);
    try {
      const client = new VllmClient({ requestTimeoutMs: 10_000 });
      const node = { name: 'sim', url: `http://127.0.0.1:${proxy.port}`, engine: 'vllm' as const };
      const messages = [{ role: 'user', content: 'split me' }];
      let text = '';
      let usage = null;
      let finish = null;
      for await (const chunk of client.stream(node, { model: 'qwen3:0.6b', messages, seed: 3 }, new AbortController().signal)) {
        text += chunk.choices[0]?.delta.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      const expected = generateTokens(3, messages);
      expect(text).toBe(expected.tokens.join(''));
      expect(finish).toBe('stop');
      expect(usage).toMatchObject({ completion_tokens: expected.tokens.length });
    } finally {
      proxy.close();
    }
  });
});
