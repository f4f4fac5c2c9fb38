import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { temporalClient, testStack } from '../support/stack.js';

// The fleet on real simulators behind an isolated Genie deployment: probes, registry, selection.

const admin = async (base: string, method: string, path: string, body?: unknown) => {
  const res = await fetch(`${base}/admin/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
};
const chat = (base: string, model: string, i = 0) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
    body: JSON.stringify({ model, max_tokens: 2, messages: [{ role: 'user', content: `fleet ${i}` }] }),
  });
/**
 * Where each completion ran, as ops see it: the workflow's GenieNode search attribute. A caller-held
 * completion answers from inside its one workflow task and records its search attributes when that task
 * completes, a moment after the caller's last byte, so read them once the workflow has ended.
 */
const placements = async (ids: string[]) => {
  const { client, close } = await temporalClient();
  try {
    return await Promise.all(
      ids.map(async (id) => {
        const handle = client.workflow.getHandle(id);
        await handle.result();
        return (await handle.describe()).searchAttributes.GenieNode?.[0];
      }),
    );
  } finally {
    await close();
  }
};
const until = async (what: string, check: () => Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe('the GPU fleet', () => {
  let busy: Simulator, calm: Simulator, drainA: Simulator, drainB: Simulator, hung: Simulator, sane: Simulator, extra: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    [busy, calm, drainA, drainB, hung, sane, extra] = await Promise.all([
      startSimulator({ port: 0, models: ['spread-model'], maxNumSeqs: 1, timeToFirstToken: 400 }),
      startSimulator({ port: 0, models: ['spread-model'], maxNumSeqs: 64 }),
      startSimulator({ port: 0, models: ['drain-model'] }),
      startSimulator({ port: 0, models: ['drain-model'] }),
      startSimulator({ port: 0, models: ['hang-model'], hang: true }),
      startSimulator({ port: 0, models: ['hang-model'] }),
      startSimulator({ engine: 'triton', port: 0, models: ['late-model'] }),
    ]);
    genie = await startIsolatedGenie({
      nodes: [`busy:vllm=${busy.url}`, `calm:vllm=${calm.url}`, `drain-a:vllm=${drainA.url}`, `drain-b:vllm=${drainB.url}`, `hung:vllm=${hung.url}`, `sane:vllm=${sane.url}`].join(','),
      // A request that still lands on the hung node before its verdict gives up after 10 s and fails over.
      env: { GENIE_PROBE_TIMEOUT_MS: '2000', GENIE_NODE_TIMEOUT_MS: '10000' },
    });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([busy, calm, drainA, drainB, hung, sane, extra].map((s) => s?.close().catch(() => undefined)));
  });

  it('spreads load by the nodes’ metrics: a saturated node gets (almost) nothing new', async () => {
    // Saturate `busy` directly: one running, several waiting, as its /metrics will say.
    const backlog = Array.from({ length: 30 }, () =>
      fetch(`${busy.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'spread-model', messages: [{ role: 'user', content: 'x' }] }) }),
    );
    await until('the probe to see the backlog', async () => {
      const nodes = (await admin(genie.apiUrl, 'GET', '/nodes')).json.data as Array<{ name: string; load: { waiting: number } | null }>;
      return (nodes.find((n) => n.name === 'busy')?.load?.waiting ?? 0) >= 5;
    });
    await new Promise((r) => setTimeout(r, 700)); // the registry has it; every process re-reads it within 300 ms
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await chat(genie.apiUrl, 'spread-model', i);
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: string }).id);
    }
    expect(await placements(ids)).toEqual(Array(20).fill('calm'));
    // Busy is slow, not hung: its queue delays the probe's ping, but it keeps finishing requests.
    const nodes = (await admin(genie.apiUrl, 'GET', '/nodes')).json.data as Array<{ name: string; state: string }>;
    expect(nodes.find((n) => n.name === 'busy')?.state).toBe('active');
    await Promise.all(backlog);
  });

  it('detects a hung node (health 200, no tokens) by its one-token probe and routes around it', async () => {
    await until('the hung node to be marked down', async () => {
      const nodes = (await admin(genie.apiUrl, 'GET', '/nodes')).json.data as Array<{ name: string; state: string; healthy: boolean; lastProbe: { error: string } }>;
      const h = nodes.find((n) => n.name === 'hung')!;
      return h.state === 'down' && !h.healthy && /no answer and no request finished/.test(h.lastProbe.error);
    }, 40_000);
    await new Promise((r) => setTimeout(r, 700)); // every process re-reads the registry within 300 ms
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(genie.apiUrl, 'hang-model', i)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await placements(await Promise.all(results.map(async (r) => ((await r.json()) as { id: string }).id)))).toEqual(Array(10).fill('sane'));
  }, 90_000);

  it('a draining node takes nothing new; back to active it does', async () => {
    const nodes = (await admin(genie.apiUrl, 'GET', '/nodes')).json.data as Array<{ id: string; name: string }>;
    const a = nodes.find((n) => n.name === 'drain-a')!;
    expect((await admin(genie.apiUrl, 'PATCH', `/nodes/${a.id}`, { state: 'draining' })).json.state).toBe('draining');
    await new Promise((r) => setTimeout(r, 700)); // every process re-reads the registry within 300 ms
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await chat(genie.apiUrl, 'drain-model', i);
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: string }).id);
    }
    expect(await placements(ids)).toEqual(Array(12).fill('drain-b'));
    expect((await admin(genie.apiUrl, 'PATCH', `/nodes/${a.id}`, { state: 'active' })).json.state).toBe('active');
    expect((await admin(genie.apiUrl, 'PATCH', `/nodes/${a.id}`, { state: 'asleep' })).status).toBe(400);
  });

  it('registers a node through the admin API and discovers its models at once', async () => {
    const created = await admin(genie.apiUrl, 'POST', '/nodes', { name: 'late', url: extra.url, engine: 'triton' });
    expect(created.status).toBe(201);
    const nodes = (await admin(genie.apiUrl, 'GET', '/nodes')).json.data as Array<{ id: string; models: string[]; engine: string; healthy: boolean }>;
    expect(nodes.find((n) => n.id === created.json.id)).toMatchObject({ engine: 'triton', models: ['late-model'], healthy: true });
    expect((await chat(genie.apiUrl, 'late-model')).status).toBe(200);
    expect((await admin(genie.apiUrl, 'DELETE', `/nodes/${created.json.id}`)).status).toBe(204);
  });
});

describe('a node killed during a burst', () => {
  let a: Simulator, b: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    [a, b] = await Promise.all([
      startSimulator({ port: 0, models: ['burst-model'], timeToFirstToken: 30, maxNumSeqs: 256 }),
      startSimulator({ port: 0, models: ['burst-model'], timeToFirstToken: 30, maxNumSeqs: 256 }),
    ]);
    genie = await startIsolatedGenie({ nodes: `burst-a:vllm=${a.url},burst-b:vllm=${b.url}`, env: { GENIE_PROBE_INTERVAL_MS: '600000' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([a, b].map((s) => s?.close().catch(() => undefined)));
  });

  it('200 concurrent requests all succeed when one of two nodes dies mid-burst', async () => {
    const all = Array.from({ length: 200 }, (_, i) => chat(genie.apiUrl, 'burst-model', i).then(async (r) => ({ status: r.status, body: await r.text() })));
    await new Promise((r) => setTimeout(r, 300));
    await a.close(); // in-flight requests on it are cut; new ones are refused
    const results = await Promise.all(all);
    const failed = results.filter((r) => r.status !== 200);
    expect(failed).toEqual([]);
  }, 120_000);
});
