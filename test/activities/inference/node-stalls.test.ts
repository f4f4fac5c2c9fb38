import { startSimulator, type Simulator } from '../../../simulator/server.js';
import { VllmClient } from '../../../activities/inference/vllm.js';
import { TritonClient } from '../../../activities/inference/triton.js';
import { UpstreamError } from '../../../activities/inference/upstream-error.js';
import type { NodeClient } from '../../../activities/inference/node-client.js';

// The node clients' stall timeout against simulators that go quiet (`stallAfter`): a stream silent
// before its first token may go to another node, one silent after tokens may not; the clock stops while
// the consumer holds an event (a slow caller); and a socket in use has no inactivity limit of its own.

const STALL_MS = 300;
const request = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }], max_tokens: 50 };

async function aborted(sim: Simulator): Promise<number> {
  const text = await (await fetch(sim.metricsUrl)).text();
  return Number(/^genie_sim_requests_aborted_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Reads a stream to its end (or its error): the content deltas it yielded, and how it ended. */
async function drain(client: NodeClient, sim: Simulator, engine: 'vllm' | 'triton', hold?: () => Promise<void>) {
  const contents: string[] = [];
  try {
    for await (const chunk of client.stream({ name: 'n', url: sim.url, engine }, request, new AbortController().signal)) {
      const content = chunk.choices[0]?.delta.content;
      if (content) {
        contents.push(content);
        await hold?.();
      }
    }
    return { contents, error: null };
  } catch (e) {
    return { contents, error: e as UpstreamError };
  }
}

describe('the node clients’ stall timeout', () => {
  const sims: Simulator[] = [];
  const sim = async (flags: Parameters<typeof startSimulator>[0]) => {
    const s = await startSimulator({ port: 0, models: ['m'], ...flags });
    sims.push(s);
    return s;
  };
  afterAll(() => Promise.all(sims.map((s) => s.close())));
  const clients = { vllm: new VllmClient({ requestTimeoutMs: 60_000, stallTimeoutMs: STALL_MS }), triton: new TritonClient({ requestTimeoutMs: 60_000, stallTimeoutMs: STALL_MS }) };

  for (const engine of ['vllm', 'triton'] as const) {
    it(`${engine}: silent before the first token → a stalled node (503, fails over), and the node request is dropped`, async () => {
      const quiet = await sim({ engine, stallAfter: 0 });
      const { contents, error } = await drain(clients[engine], quiet, engine);
      expect(contents).toEqual([]);
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).toMatchObject({ status: null, failover: true, message: `node n stalled: nothing received for ${STALL_MS} ms` });
      expect(error!.toGenieError()).toMatchObject({ status: 503, type: 'service_unavailable' });
      while ((await aborted(quiet)) === 0) await new Promise((r) => setTimeout(r, 20));
    });

    it(`${engine}: silent after two tokens → stalled, and no failover (tokens were produced)`, async () => {
      const fading = await sim({ engine, stallAfter: 2 });
      const { contents, error } = await drain(clients[engine], fading, engine);
      expect(contents).toHaveLength(2);
      expect(error).toMatchObject({ status: null, failover: false, message: expect.stringContaining('stalled') });
    });

    it(`${engine}: a consumer slower than the stall timeout is not the node's stall`, async () => {
      const steady = await sim({ engine });
      // The consumer holds each of the first tokens for twice the stall timeout (a caller reading slowly):
      // the node is not read meanwhile, and that wait is not counted against it.
      let held = 0;
      const { contents, error } = await drain(clients[engine], steady, engine, () => (held++ < 2 ? new Promise((r) => setTimeout(r, 2 * STALL_MS)) : Promise.resolve()));
      expect(error).toBeNull();
      expect(contents.length).toBeGreaterThan(2);
    });
  }

  it('Triton sync (built on the stream) stalls the same way: failover before any token', async () => {
    const quiet = await sim({ engine: 'triton', stallAfter: 0 });
    const error = await clients.triton.complete({ name: 'n', url: quiet.url, engine: 'triton' }, request, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: null, failover: true, message: expect.stringContaining('stalled') });
  });

  it('an answer slower than 8 s is not cut by the pool (agentkeepalive’s default inactivity limit on a socket in use)', async () => {
    const slow = await sim({ timeToFirstToken: 8500 });
    const client = new VllmClient({ requestTimeoutMs: 60_000 });
    const body = await client.complete({ name: 'n', url: slow.url, engine: 'vllm' }, request, new AbortController().signal);
    expect(body.choices[0].message.content?.length).toBeGreaterThan(0);
  }, 20_000);
});
