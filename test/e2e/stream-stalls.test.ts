import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { testStack } from '../support/stack.js';

// Nodes that go quiet: one that accepts a stream and never sends a token, one that stops after three.
// Genie's stall timeout (1.5 s here) must fail the first over to another node invisibly and end the
// second with the inline error — and a sync call the same way: failover, or a 503. Without the stall
// timeout each of these callers would wait for the node call's 10-minute limit: the tests' own
// timeouts are the bound.

const STALL_MS = 1500;
const messages = [{ role: 'user' as const, content: 'Tell me a story.' }];

/** A counter's sum over every line of a Prometheus exposition whose labels contain `labels`. */
async function counter(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

/** Polls until `check` holds (the test's timeout is the bound). */
async function until(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 50));
}

describe('stalled nodes', () => {
  let silent: Simulator, steady: Simulator, fading: Simulator, silentTriton: Simulator, steadyTriton: Simulator, fadingTriton: Simulator;
  let genie: IsolatedGenie;
  let client: OpenAI;
  /** A Genie counter, summed over its API and its worker (a workflow task may run in either). */
  const genieCount = async (name: string, labels: string) =>
    (await counter(`${genie.apiUrl}/metrics`, name, labels)) + (await counter(genie.workers[0].ready.metricsUrl as string, name, labels));

  beforeAll(async () => {
    [silent, steady, fading, silentTriton, steadyTriton, fadingTriton] = await Promise.all([
      startSimulator({ port: 0, models: ['quiet-model'], stallAfter: 0 }),
      startSimulator({ port: 0, models: ['quiet-model'] }),
      startSimulator({ port: 0, models: ['fade-model'], stallAfter: 3 }),
      startSimulator({ engine: 'triton', port: 0, models: ['quiet-triton'], stallAfter: 0 }),
      startSimulator({ engine: 'triton', port: 0, models: ['quiet-triton'] }),
      startSimulator({ engine: 'triton', port: 0, models: ['fade-triton'], stallAfter: 3 }),
    ]);
    genie = await startIsolatedGenie({
      nodes: [`silent:vllm=${silent.url}`, `steady:vllm=${steady.url}`, `fading:vllm=${fading.url}`, `silent-t:triton=${silentTriton.url}`, `steady-t:triton=${steadyTriton.url}`, `fading-t:triton=${fadingTriton.url}`].join(','),
      // The silent Triton node stalls the probe's one-token ping too: a long probe timeout keeps it
      // selectable (not yet judged hung) for the whole file, so only failover routes around it.
      env: { GENIE_NODE_STALL_TIMEOUT_MS: String(STALL_MS), GENIE_SSE_KEEPALIVE_MS: '200', GENIE_PROBE_TIMEOUT_MS: '20000' },
    });
    client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([silent, steady, fading, silentTriton, steadyTriton, fadingTriton].map((s) => s?.close().catch(() => undefined)));
  });

  async function streamOnce(model: string): Promise<{ contents: string[]; finish: string | null }> {
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    const contents: string[] = [];
    let finish: string | null = null;
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    return { contents, finish };
  }

  it('a stream on a node that sends its head and then nothing fails over before the first token, invisibly', async () => {
    const abortedBefore = await counter(`${silent.url}/metrics`, 'genie_sim_requests_aborted_total');
    // Which node a stream tries first is chance (power of two choices): stream until one was placed on
    // the silent node (each try ~1 in 2; 40 misses is 1 in 2^40). Every stream must end as if nothing failed.
    let placed = false;
    for (let i = 0; i < 40 && !placed; i++) {
      const { contents, finish } = await streamOnce('quiet-model');
      expect(contents.join('')).not.toContain('[error]');
      expect(contents.length).toBeGreaterThan(0);
      expect(finish).toBe('stop');
      placed = (await genieCount('genie_node_selections_total', 'node="silent"')) > 0;
    }
    expect(placed).toBe(true);
    expect(await genieCount('genie_failovers_total', 'model="quiet-model"')).toBeGreaterThanOrEqual(1);
    // Genie hung up on the silent node (the simulator saw its client leave), it did not just look away.
    await until(async () => (await counter(`${silent.url}/metrics`, 'genie_sim_requests_aborted_total')) > abortedBefore);
  }, 30_000);

  it('a stream whose node stops after three tokens ends with the inline 503, never silence', async () => {
    const { contents, finish } = await streamOnce('fade-model');
    expect(contents).toHaveLength(4); // three real tokens, then the error
    expect(contents.slice(0, 3).join('')).not.toContain('[error]');
    expect(contents[3]).toBe(`[error] 503 node fading stalled: nothing received for ${STALL_MS} ms`);
    expect(finish).toBe('error');
    await until(async () => (await counter(`${fading.url}/metrics`, 'genie_sim_requests_aborted_total')) > 0);
  }, 30_000);

  it('sync on Triton: a node silent before its first token is failed over from, one that stalls after tokens is a 503', async () => {
    let placed = false;
    for (let i = 0; i < 40 && !placed; i++) {
      const res = await client.chat.completions.create({ model: 'quiet-triton', messages });
      expect(res.choices[0].message.content?.length).toBeGreaterThan(0);
      expect(res.choices[0].finish_reason).toBe('stop');
      placed = (await genieCount('genie_node_selections_total', 'node="silent-t"')) > 0;
    }
    expect(placed).toBe(true);
    expect(await genieCount('genie_failovers_total', 'model="quiet-triton"')).toBeGreaterThanOrEqual(1);

    const err = await client.chat.completions.create({ model: 'fade-triton', messages }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 503, type: 'service_unavailable', message: expect.stringContaining('node fading-t stalled') });
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('retry-after')).toBe('1');
  }, 40_000);
});
