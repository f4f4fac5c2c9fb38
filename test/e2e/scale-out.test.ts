import OpenAI from 'openai';
import { startSimulator } from '../../simulator/server.js';
import { api, pollJob } from '../support/jobs.js';
import { temporalClient, testStack } from '../support/stack.js';
import { putPrice } from '../support/tenants.js';

// The shared stack runs two APIs and two workers on one Temporal and one Postgres (global-setup.js),
// and testStack() spreads every test's requests over both APIs. This file checks the scale-out
// itself: any API answers for any job, and both workers carry the load.

const messages = [{ role: 'user' as const, content: 'scale me out' }];

describe('scale-out: two APIs and two workers on one Temporal and one Postgres', () => {
  const [a, b] = testStack().apiUrls;

  it('runs with at least two APIs and two workers', () => {
    expect(testStack().apiUrls.length).toBeGreaterThanOrEqual(2);
    expect(testStack().workerMetricsUrls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(testStack().apiUrls).size).toBe(testStack().apiUrls.length);
  });

  it('a job started on one API is polled on the other', async () => {
    const started = await api('/v1/chat/completions', { base: a, body: { model: 'qwen3:0.6b', messages, mode: 'async' } });
    expect(started.status).toBe(202);
    const done = await pollJob(started.json.poll_url, undefined, { base: b });
    expect(done.status).toBe('completed');
    expect(done.result?.id).toBe(started.json.id);
  });

  it('a running job started on one API is cancelled on the other', async () => {
    // A slow node of its own in the shared fleet (registered through the admin API, which probes it):
    // its job runs for seconds, so the cancel lands mid-generation.
    const slow = await startSimulator({ port: 0, models: ['scale-slow-model'], timeToFirstToken: 50, interTokenLatency: 300 });
    await putPrice('scale-slow-model'); // a fixture model, free on purpose
    const added = await api('/admin/v1/nodes', { base: a, key: testStack().adminToken, body: { name: `scale-slow-${Date.now()}`, url: slow.url, engine: 'vllm' } });
    expect(added.status).toBe(201);
    try {
      // Every process re-reads the registry within a second.
      await new Promise((r) => setTimeout(r, 1500));
      const long = await api('/v1/chat/completions', { base: b, body: { model: 'scale-slow-model', messages, mode: 'async' } });
      expect(long.status).toBe(202);
      await pollJob(long.json.poll_url, (j) => j.status === 'in_progress', { base: a });
      const cancelled = await api(`/v1/jobs/${long.json.id}/cancel`, { base: a, method: 'POST' });
      expect(cancelled.status).toBe(200);
      const seen = await pollJob(long.json.poll_url, undefined, { base: b });
      expect(seen.status).toBe('cancelled');
      expect((await api(`/v1/jobs/${long.json.id}`, { base: a })).json.status).toBe('cancelled');
    } finally {
      await api(`/admin/v1/nodes/${added.json.id}`, { base: a, method: 'DELETE', key: testStack().adminToken }).catch(() => undefined);
      await slow.close();
    }
  });

  it('sync and stream answer on every API through the official SDK', async () => {
    for (const base of [a, b]) {
      const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
      const sync = await client.chat.completions.create({ model: 'qwen3:0.6b', messages });
      expect(sync.choices[0].message.content?.length).toBeGreaterThan(0);
      let text = '';
      for await (const c of await client.chat.completions.create({ model: 'qwen3:0.6b', messages, stream: true })) text += c.choices[0]?.delta.content ?? '';
      expect(text).toBe(sync.choices[0].message.content);
    }
  });

  it('both workers run completions: workflow tasks of a batch of jobs come from two worker processes', async () => {
    const jobs = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => (await api('/v1/chat/completions', { base: i % 2 ? a : b, body: { model: 'qwen3:0.6b', messages: [{ role: 'user', content: `batch ${i}` }], mode: 'async' } })).json),
    );
    await Promise.all(jobs.map((j, i) => pollJob(j.poll_url, undefined, { base: i % 2 ? b : a })));
    const { client, close } = await temporalClient();
    try {
      const identities = new Set<string>();
      for (const j of jobs) {
        const history = await client.workflow.getHandle(j.id).fetchHistory();
        for (const e of history.events ?? []) {
          const identity = e.workflowTaskCompletedEventAttributes?.identity;
          if (identity) identities.add(identity);
        }
      }
      expect(identities.size).toBeGreaterThanOrEqual(2);
    } finally {
      await close();
    }
  });
});
