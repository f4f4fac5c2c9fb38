import net, { type AddressInfo } from 'node:net';
import { VllmClient } from '../../../activities/inference/vllm.js';
import { generateBody, modelPath, uint64Seed } from '../../../activities/inference/triton.js';
import { UpstreamError } from '../../../activities/inference/upstream-error.js';
import { parseNodeList } from '../../../activities/nodes/node-list.js';
import { fitMaxTokens, refitMaxTokens } from '../../../protocol/max-tokens.js';
import { refOf } from '../../../activities/nodes/node-ref.js';

// Node clients at their boundary: a raw TCP server plays the engine, so the keep-alive race is exact.

const completion = JSON.stringify({ choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
const ok = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(completion)}\r\nConnection: keep-alive\r\n\r\n${completion}`;

/**
 * An engine that answers the first request on each connection and resets the connection when a second
 * one arrives on it: what a client sees when it reuses a socket the server is closing for idleness.
 */
async function closingEngine() {
  const seen: Array<{ connection: number; request: number }> = [];
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    const connection = ++connections;
    let requests = 0;
    let buffered = '';
    socket.on('data', (d) => {
      buffered += d.toString();
      while (buffered.includes('\r\n\r\n')) {
        const [head, rest] = [buffered.slice(0, buffered.indexOf('\r\n\r\n')), buffered.slice(buffered.indexOf('\r\n\r\n') + 4)];
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (rest.length < length) return;
        buffered = rest.slice(length);
        seen.push({ connection, request: ++requests });
        if (requests === 1) socket.write(ok);
        else socket.resetAndDestroy();
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () => {
    for (const s of sockets) s.destroy(); // the client's pool keeps its fresh socket open
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close };
}

describe('the vLLM client on a reused keep-alive socket', () => {
  it('sends a request that died on a reused socket before any byte once more on a fresh one, without blaming the node', async () => {
    const engine = await closingEngine();
    try {
      const client = new VllmClient({ requestTimeoutMs: 5000, idleSocketMs: 60_000 });
      const node = { name: 'n', url: engine.url, engine: 'vllm' as const };
      const ask = () => client.complete(node, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, new AbortController().signal);
      expect((await ask()).choices[0].message.content).toBe('ok');
      expect((await ask()).choices[0].message.content).toBe('ok'); // reset on the reused socket, then a fresh one
      expect(engine.seen).toEqual([
        { connection: 1, request: 1 },
        { connection: 1, request: 2 },
        { connection: 2, request: 1 },
      ]);
    } finally {
      await engine.close();
    }
  });

  it('a reset on a fresh socket is the node’s failure (unreachable, fails over)', async () => {
    const server = net.createServer((s) => s.on('data', () => s.resetAndDestroy()).on('error', () => undefined));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const client = new VllmClient({ requestTimeoutMs: 5000 });
      const node = { name: 'n', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, engine: 'vllm' as const };
      const err = await client.complete(node, { model: 'm', messages: [{ role: 'user', content: 'x' }] }, new AbortController().signal).catch((e) => e);
      expect(err).toBeInstanceOf(UpstreamError);
      expect(err).toMatchObject({ status: null, failover: true });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('Triton requests', () => {
  it('name models by their raw repository name in the path (Triton does not decode %3A)', () => {
    expect(modelPath('qwen3:8b')).toBe('qwen3:8b');
    expect(modelPath('a b/c')).toBe('a%20b%2Fc');
  });

  it('map an OpenAI seed to the UINT64 random_seed by two’s complement', () => {
    expect(uint64Seed(7)).toBe(7n);
    expect(uint64Seed(-1)).toBe(18446744073709551615n);
  });

  it('send each sampling field the way the model declares it', () => {
    const request = { model: 'm', messages: [], max_tokens: 5, temperature: 0.5, seed: 3, stop: ['END'] };
    // TensorRT-LLM's ensemble: input tensors, stop words as a list input.
    expect(generateBody(request, ['text_input', 'max_tokens', 'stop_words', 'random_seed', 'temperature', 'stream'], 'p')).toEqual({
      text_input: 'p',
      max_tokens: 5,
      temperature: 0.5,
      random_seed: 3n,
      stream: true,
      stop_words: ['END'],
    });
    // Triton's vLLM backend: one JSON string of sampling parameters.
    expect(generateBody(request, ['text_input', 'stream', 'sampling_parameters', 'exclude_input_in_output'], 'p')).toEqual({
      text_input: 'p',
      stream: true,
      exclude_input_in_output: true,
      sampling_parameters: JSON.stringify({ max_tokens: 5, temperature: 0.5, seed: 3, stop: ['END'] }),
    });
    // Inputs unknown: scalars as request parameters, never a list (Triton refuses one there).
    expect(generateBody(request, undefined, 'p')).toEqual({ text_input: 'p', parameters: { stream: true, max_tokens: 5, temperature: 0.5, random_seed: 3n } });
  });
});

describe('node configuration', () => {
  it('reads a Triton metrics URL from GENIE_NODES', () => {
    expect(parseNodeList('gpu1:triton=http://gpu1:8000;metrics=http://gpu1:8002/metrics,vllm=http://h:9101')).toEqual([
      { name: 'gpu1', engine: 'triton', url: 'http://gpu1:8000', metricsUrl: 'http://gpu1:8002/metrics' },
      { name: 'vllm-9101', engine: 'vllm', url: 'http://h:9101' },
    ]);
    expect(() => parseNodeList('triton=http://h:1;nope=1')).toThrow(/unknown option/);
  });

  it('fits max_tokens to a node’s context length', () => {
    const vllm = (maxTokens: number, defaulted: boolean, contextLength: number | undefined) => fitMaxTokens({ maxTokens, defaulted, contextLength, engineFitsMissing: true, promptBound: 200 });
    expect(vllm(4096, true, undefined)).toEqual({ outputBound: 4096 }); // unknown context: as it is
    expect(vllm(4096, true, 1024)).toEqual({ send: null, outputBound: 1024 }); // Genie's default does not fit: none sent
    expect(vllm(512, true, 1024)).toEqual({ outputBound: 512 });
    expect(vllm(1024, false, 1024)).toEqual({ outputBound: 1024 });
    expect(() => vllm(1025, false, 1024)).toThrow(/max_tokens=1025/);
    // Triton fits no missing max_tokens itself (TensorRT-LLM requires it): what the context leaves.
    expect(fitMaxTokens({ maxTokens: 4096, defaulted: true, contextLength: 1024, engineFitsMissing: false, promptBound: 200 })).toEqual({ send: 824, outputBound: 824 });
    expect(fitMaxTokens({ maxTokens: 4096, defaulted: true, contextLength: 1024, engineFitsMissing: false, promptBound: 5000 })).toEqual({ send: 1, outputBound: 1 });
    // Genie's default that fits the context on its own but not beside the prompt: what is left beside it.
    expect(fitMaxTokens({ maxTokens: 4096, defaulted: true, contextLength: 4096, engineFitsMissing: false, promptBound: 200 })).toEqual({ send: 3896, outputBound: 3896 });
    expect(fitMaxTokens({ maxTokens: 4096, defaulted: true, contextLength: 8192, engineFitsMissing: false, promptBound: 200 })).toEqual({ outputBound: 4096 });
  });

  it('re-fits on failover to the new node, never beyond what admission reserved', () => {
    const at = (contextLength: number | undefined, engineFitsMissing = true) => ({ maxTokens: 4096, defaulted: true, contextLength, engineFitsMissing, promptBound: 200 });
    expect(refitMaxTokens(at(1024), 4096)).toEqual({ send: null, outputBound: 1024 }); // a smaller node: the default dropped
    expect(refitMaxTokens(at(8192), 1024)).toEqual({ send: 1024, outputBound: 1024 }); // a larger one: the reserved 1024, not 4096
    expect(refitMaxTokens(at(undefined), 4096)).toEqual({ outputBound: 4096 });
    expect(refitMaxTokens(at(2048, false), 1024)).toEqual({ send: 1024, outputBound: 1024 });
  });

  it('reads a node’s context length from GENIE_NODES; the smaller of it and the engine’s is fitted to', () => {
    const [triton] = parseNodeList('gpu2:triton=http://gpu2:8000;context=8192');
    expect(triton).toEqual({ name: 'gpu2', engine: 'triton', url: 'http://gpu2:8000', contextLengths: { '*': 8192 } });
    expect(() => parseNodeList('triton=http://h:1;context=lots')).toThrow(/context must be/);
    const record = {
      id: 'n', fleet: 'f', name: 'gpu2', url: 'http://gpu2:8000', engine: 'vllm' as const, metricsUrl: null, modelNames: {}, state: 'active' as const,
      models: ['a', 'b', 'c'], capabilities: [], healthy: true, load: null, lastProbe: null, probedAt: null,
      contextLengths: { '*': 8192, b: 2048 },
      modelInfo: { a: { contextLength: 4096 }, b: {}, c: { contextLength: 32768, served: 'C' } },
    };
    expect(refOf(record, 'a').model).toEqual({ contextLength: 4096 }); // the engine's is smaller
    expect(refOf(record, 'b').model).toEqual({ contextLength: 2048 }); // per model beats '*'
    expect(refOf(record, 'c').model).toEqual({ contextLength: 8192, served: 'C' });
    expect(refOf({ ...record, contextLengths: {} }, 'b').model).toEqual({});
  });
});
