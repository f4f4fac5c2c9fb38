import OpenAI from 'openai';
import { createParser } from 'eventsource-parser';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { temporalClient, testStack, withDb } from '../support/stack.js';

// Node failures, a departing caller and slow first tokens, each on simulators this test controls,
// behind an isolated Genie deployment (its own API + worker) on the shared Postgres and Temporal.

const messages = [{ role: 'user' as const, content: 'Tell me a long story.' }];

async function metric(sim: Simulator, name: string): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('stream failures, failover and disconnects', () => {
  let refusing: Simulator, healthy: Simulator, midStream: Simulator, slow: Simulator, doomed: Simulator, survivor: Simulator;
  let genie: IsolatedGenie;
  let client: OpenAI;

  beforeAll(async () => {
    [refusing, healthy, midStream, slow, doomed, survivor] = await Promise.all([
      startSimulator({ port: 0, models: ['fo-model'], failureInjectionRate: 100, failureTypes: ['server_error'] }),
      startSimulator({ port: 0, models: ['fo-model'] }),
      startSimulator({ port: 0, models: ['mid-model'], failureInjectionRate: 100, failureTypes: ['mid_stream'] }),
      startSimulator({ port: 0, models: ['slow-model'], timeToFirstToken: 1200, interTokenLatency: 150 }),
      startSimulator({ port: 0, models: ['two-model'] }),
      startSimulator({ port: 0, models: ['two-model'] }),
    ]);
    genie = await startIsolatedGenie({
      nodes: [`refusing:vllm=${refusing.url}`, `healthy:vllm=${healthy.url}`, `mid:vllm=${midStream.url}`, `slow:vllm=${slow.url}`, `doomed:vllm=${doomed.url}`, `survivor:vllm=${survivor.url}`].join(','),
      // Probes so rare that a node killed mid-test is only discovered by failover, never by a probe.
      env: { GENIE_SSE_KEEPALIVE_MS: '200', GENIE_PROBE_INTERVAL_MS: '600000' },
    });
    client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([refusing, healthy, midStream, slow, doomed, survivor].map((s) => s?.close().catch(() => undefined)));
  });

  /** One stream through the SDK: its text and its last finish_reason. */
  async function streamOnce(model: string): Promise<{ text: string; finish: string | null }> {
    const stream = await client.chat.completions.create({ model, messages, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    return { text, finish };
  }

  it('fails over, invisibly, from a node that refuses before the first token', async () => {
    const before = await metric(refusing, 'genie_sim_requests_received_total');
    // Selection is power-of-two-choices, so which node goes first is chance: stream until the refusing
    // node was tried at least once (each try ~1 in 2; 40 tries all missing it is 1 in 2^40), and at
    // least 4 times in all. Every stream must complete as if nothing failed.
    let tried = false;
    for (let i = 0; i < 40 && (i < 4 || !tried); i++) {
      const { text, finish } = await streamOnce('fo-model');
      expect(text).not.toContain('[error]');
      expect(text.length).toBeGreaterThan(0);
      expect(finish).toBe('stop');
      tried = (await metric(refusing, 'genie_sim_requests_received_total')) > before;
    }
    expect(tried).toBe(true);
  });

  it('with one of two nodes down (before any probe noticed), every stream still completes on the other', async () => {
    const survivedBefore = await metric(survivor, 'vllm:request_success_total');
    await doomed.close(); // connection refused from now on
    const doomedRecord = async () => {
      const res = await fetch(`${genie.apiUrl}/admin/v1/nodes`, { headers: { authorization: `Bearer ${testStack().adminToken}` } });
      const nodes = ((await res.json()) as { data: Array<{ name: string; healthy: boolean; lastProbe: { suspect?: boolean } }> }).data;
      return nodes.find((n) => n.name === 'doomed');
    };
    const results = await Promise.all(Array.from({ length: 6 }, () => streamOnce('two-model')));
    // Which node a stream tries first is chance (power of two choices): stream on, one at a time, until
    // the dead node was tried and failed over from (each try ~1 in 2; 40 misses is 1 in 2^40).
    for (let i = 0; i < 40 && !(await doomedRecord())?.lastProbe?.suspect; i++) results.push(await streamOnce('two-model'));
    for (const r of results) {
      expect(r.finish).toBe('stop');
      expect(r.text).not.toContain('[error]');
    }
    expect((await metric(survivor, 'vllm:request_success_total')) - survivedBefore).toBe(results.length);
    // The failed node is marked suspect in the registry at once (no probe ran: the interval is 10 min).
    expect(await doomedRecord()).toMatchObject({ healthy: false, lastProbe: { suspect: true } });
  });

  it('a failure after tokens were sent ends the stream with the inline error, never silence', async () => {
    const stream = await client.chat.completions.create({ model: 'mid-model', messages, stream: true });
    const contents: string[] = [];
    let finish = null;
    for await (const c of stream) {
      if (c.choices[0]?.delta.content) contents.push(c.choices[0].delta.content);
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(contents.length).toBeGreaterThan(1); // real tokens first
    expect(contents.at(-1)).toBe('[error] 500 injected failure: generation aborted mid-stream');
    expect(finish).toBe('error');
  });

  it('sends keep-alive comments while waiting for a slow first token', async () => {
    const res = await fetch(`${genie.apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
      body: JSON.stringify({ model: 'slow-model', messages, stream: true, max_tokens: 2 }),
    });
    const order: string[] = [];
    const parser = createParser({ onEvent: (e) => order.push(e.data === '[DONE]' ? 'done' : JSON.parse(e.data).choices[0]?.delta.content ? 'content' : 'other'), onComment: () => order.push('comment') });
    parser.feed(await res.text());
    const firstContent = order.indexOf('content');
    expect(order.slice(0, firstContent).filter((x) => x === 'comment').length).toBeGreaterThanOrEqual(3);
    expect(order.slice(firstContent).includes('comment')).toBe(false);
  });

  it('a caller who disconnects aborts the node request within a second, cancels the workflow and settles the partial usage', async () => {
    const abortsBefore = await metric(slow, 'genie_sim_requests_aborted_total');
    const controller = new AbortController();
    const stream = await client.chat.completions.create({ model: 'slow-model', messages, stream: true }, { signal: controller.signal });
    let id = '';
    let tokens = 0;
    try {
      for await (const c of stream) {
        id = c.id;
        if (c.choices[0]?.delta.content) tokens++;
        if (tokens === 2) controller.abort();
      }
    } catch {
      /* the abort surfaces as an error in the SDK's iterator */
    }
    const leftAt = Date.now();
    while ((await metric(slow, 'genie_sim_requests_aborted_total')) === abortsBefore) {
      if (Date.now() - leftAt > 1000) throw new Error('the node did not see the abort within a second');
      await new Promise((r) => setTimeout(r, 25));
    }
    const { client: temporal, close } = await temporalClient();
    try {
      const handle = temporal.workflow.getHandle(id);
      await handle.result().catch(() => undefined);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
    } finally {
      await close();
    }
    const row = await withDb((db) => db.query('select outcome, completion_tokens from usage_records where workflow_id = $1', [id]));
    expect(row.rows[0].outcome).toBe('cancelled');
    expect(row.rows[0].completion_tokens).toBeGreaterThanOrEqual(2);
    expect(row.rows[0].completion_tokens).toBeLessThan(6);
  });
});
