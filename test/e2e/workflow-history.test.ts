import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { activityResult, localActivityResult, stepsOf } from '../support/history.js';
import type { ServeHereResult } from '../../protocol/completion-job.js';
import { openai, temporalClient, testStack, withDb, withTemporal } from '../support/stack.js';
import { startReceiver } from '../support/webhook-receiver.js';

// Every completion is a workflow whose id is the completion id, and ops can read its steps.

describe('the chatCompletion workflow behind a sync completion', () => {
  it('is one workflow task on the API holding the caller: one serveHere step (admitted, generated, settled there), and books usage in Postgres', async () => {
    const res = await openai().chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'history please' }] });
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(res.id);
      const output = await handle.result(); // settlement finishes after the caller got the body
      expect(output.status).toBe('completed');
      const desc = await handle.describe();
      expect(desc.type).toBe('chatCompletion');
      expect(desc.taskQueue).toBe('genie-workflows');
      expect(desc.searchAttributes).toMatchObject({ GenieModel: ['qwen3:8b'], GenieMode: ['sync'], GenieStatus: ['completed'] });

      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      // Local activities are recorded as markers whose data names the activity type.
      const steps = stepsOf(events);
      // serveHere = node choice + budget reservation, then the node call, which settled the usage before
      // answering (so no settleUsage step follows); selectNode only appears when a failover needs another node.
      expect(steps).toEqual(['serveHere']);
      // Ops read in its result which node served, why (the placement scores), and the tokens.
      const served = localActivityResult(events, 'serveHere') as ServeHereResult;
      expect(served.admitted?.node.name).toBe(desc.searchAttributes.GenieNode?.[0]);
      expect(Object.keys(served.admitted?.placement.scores ?? {})).toContain(served.admitted?.node.name);
      expect(served).toMatchObject({ generated: { settled: true, usage: { prompt_tokens: res.usage!.prompt_tokens, completion_tokens: res.usage!.completion_tokens } } });
      // Started eagerly: the first workflow task came back in the start call and was the whole completion.
      expect(events.filter((e) => e.workflowTaskCompletedEventAttributes)).toHaveLength(1);
      expect(events.filter((e) => e.workflowTaskScheduledEventAttributes)).toHaveLength(1);
    } finally {
      await close();
    }
    const rows = await withDb((db) => db.query('select model, mode, prompt_tokens, completion_tokens, outcome from usage_records where workflow_id = $1', [res.id]));
    expect(rows.rows).toEqual([
      { model: 'qwen3:8b', mode: 'sync', prompt_tokens: res.usage!.prompt_tokens, completion_tokens: res.usage!.completion_tokens, outcome: 'completed' },
    ]);
  });

  it('a failed completion is a failed workflow with its usage row marked failed', async () => {
    const err = await openai().chat.completions.create({ model: 'broken:latest', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(500);
    // This request's own completion (the suite runs other broken:latest requests at the same time).
    const id = (err.headers as Headers).get('x-genie-completion-id')!;
    expect(id).toMatch(/^chatcmpl-/);
    const { client, close } = await temporalClient();
    try {
      await client.workflow.getHandle(id).result().catch(() => undefined); // settled when it ends
      const rows = await withDb((db) => db.query('select outcome from usage_records where workflow_id = $1', [id]));
      expect(rows.rows).toEqual([{ outcome: 'failed' }]);
      const desc = await client.workflow.getHandle(id).describe();
      expect(desc.status.name).toBe('FAILED');
    } finally {
      await close();
    }
  });
});

describe('the chatCompletion workflow behind an async job', () => {
  /** Starts an async job and waits for its workflow to close: its id, output and history. */
  async function closedJob(body: Record<string, unknown>) {
    const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
      body: JSON.stringify({ model: 'qwen3:8b', mode: 'async', ...body }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    return withTemporal(async (client) => {
      const handle = client.workflow.getHandle(id);
      const output = await handle.result();
      return { id, output, events: (await handle.fetchHistory()).events ?? [], view: (await handle.query<{ job: { webhook: unknown } }>('job')).job };
    });
  }
  const projectionOf = (id: string) => withDb((db) => db.query('select status, view from jobs where workflow_id = $1', [id]));
  const usageOf = (id: string) => withDb((db) => db.query('select outcome from usage_records where workflow_id = $1', [id]));

  it('admit (with its first projection) → generate on the workers, which settles → webhook attempts that write the projection themselves', async () => {
    // The receiver refuses the first attempt: each attempt must land in the projection, not only the last.
    const receiver = await startReceiver((n) => (n === 0 ? 503 : 200));
    try {
      const { id, output, events, view } = await closedJob({ messages: [{ role: 'user', content: 'history of a job' }], webhook: { url: receiver.url, secret: 'history-secret' } });
      expect(output.status).toBe('completed');
      // Its input says which steps it takes: no patch marker, no TemporalChangeVersion upsert.
      expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toEqual([]);
      expect(events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TemporalChangeVersion)).toEqual([]);
      // Admission writes the first projection, the node call settles its usage, and each webhook
      // attempt writes the projection with its outcome: no settleUsage or projectJob step of its own
      // (each would be one more marker, activation and Postgres transaction per job).
      expect(stepsOf(events)).toEqual(['admit', 'generate@genie-inference', 'deliverWebhook', 'deliverWebhook']);
      expect(activityResult(events, 'generate')).toMatchObject({ settled: true, usage: output.usage });
      // The projection says what the workflow says, delivered_at included.
      const jobs = await projectionOf(id);
      expect(jobs.rows).toHaveLength(1);
      expect(jobs.rows[0].status).toBe('completed');
      expect(jobs.rows[0].view.result.usage.completion_tokens).toBeGreaterThan(0);
      expect(jobs.rows[0].view.webhook).toEqual(view.webhook);
      expect(jobs.rows[0].view.webhook).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 200, last_error: null });
      expect((await usageOf(id)).rows).toEqual([{ outcome: 'completed' }]);
    } finally {
      await receiver.close();
    }
  });

  it('without a webhook: admit → generate, which settles → the final projection, a step of its own', async () => {
    const { id, output, events } = await closedJob({ messages: [{ role: 'user', content: 'history of a polled job' }] });
    expect(stepsOf(events)).toEqual(['admit', 'generate@genie-inference', 'projectJob']);
    expect(activityResult(events, 'generate')).toMatchObject({ settled: true });
    // Polled after retention, the job reads completed with its usage, from Postgres.
    const jobs = await projectionOf(id);
    expect(jobs.rows.map((r) => [r.status, r.view.result.usage])).toEqual([['completed', output.usage]]);
    expect((await usageOf(id)).rows).toEqual([{ outcome: 'completed' }]);
  });
});

describe('a caller-held completion whose workflow task runs away from the caller', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['away-model'] });
    // No eager start: the first workflow task is dispatched to the workers, where no caller is held.
    genie = await startIsolatedGenie({ nodes: `away:vllm=${sim.url}`, env: { GENIE_API_EAGER_START: 'false' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await sim?.close();
  });

  it('falls back to generate on the API queue (sync and stream), settled there once', async () => {
    const client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
    const sync = await client.chat.completions.create({ model: 'away-model', messages: [{ role: 'user', content: 'far away' }] });
    expect(sync.choices[0].message.content!.length).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'away-model', messages: [{ role: 'user', content: 'far away' }], stream: true });
    let text = '';
    let streamId = '';
    for await (const c of stream) {
      streamId = c.id;
      text += c.choices[0]?.delta.content ?? '';
    }
    expect(text.length).toBeGreaterThan(0);
    const { client: temporal, close } = await temporalClient();
    try {
      const handle = temporal.workflow.getHandle(sync.id);
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      // The workers' workflow task asked serveHere, which answered "not here" having done nothing, so
      // admission ran as a step of its own and the regular activity on the API's own queue — where the
      // caller is — and settled before answering.
      expect(stepsOf(events)).toEqual(['serveHere', 'admit', 'generate@genie-api-*']);
      expect(localActivityResult(events, 'serveHere')).toEqual({ admitted: null, notHere: true });
      const streamed = temporal.workflow.getHandle(streamId);
      await streamed.result();
      expect(stepsOf((await streamed.fetchHistory()).events ?? [])).toEqual(['serveHere', 'admit', 'generate@genie-api-*']);
    } finally {
      await close();
    }
    const rows = await withDb((db) => db.query('select outcome, completion_tokens from usage_records where workflow_id = $1', [sync.id]));
    expect(rows.rows).toEqual([{ outcome: 'completed', completion_tokens: sync.usage!.completion_tokens }]);
  });
});

describe('a caller-held stream that outlasts its workflow task timeout', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['long-model'], interTokenLatency: 700 });
    // A 10 s task timeout against a ~17 s stream (24 tokens 700 ms apart): the SDK must keep the one task
    // alive while generateHere runs. It heartbeats at 80 % of the timeout, so the slack is a fifth of it:
    // 2 s proved too tight for a loaded CI machine to even start the task in time, 3 s and 5 s (1 s of
    // slack) to heartbeat it with real engines busy beside the suite. The default is 20 s.
    genie = await startIsolatedGenie({ nodes: `long:vllm=${sim.url}`, env: { GENIE_CALLER_HELD_TASK_TIMEOUT_MS: '10000' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await sim?.close();
  });

  it('streams to the end in one local activity, its task heartbeated, never timed out', async () => {
    const client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0 });
    const t0 = Date.now();
    const stream = await client.chat.completions.create({ model: 'long-model', max_tokens: 25, messages: [{ role: 'user', content: 'take your time' }], stream: true });
    let text = '';
    let finish: string | null = null;
    let id = '';
    for await (const c of stream) {
      id = c.id;
      text += c.choices[0]?.delta.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(['stop', 'length']).toContain(finish);
    expect(text).not.toContain('[error]');
    // The premise: the stream really outlasted the task timeout.
    expect(Date.now() - t0).toBeGreaterThan(10_500);
    const { client: temporal, close } = await temporalClient();
    try {
      const handle = temporal.workflow.getHandle(id);
      await handle.result();
      const events = (await handle.fetchHistory()).events ?? [];
      expect(stepsOf(events)).toEqual(['serveHere']);
      expect(events.filter((e) => e.workflowTaskTimedOutEventAttributes)).toHaveLength(0);
      // The SDK completed the task with no commands and took the next one while the stream ran.
      expect(events.filter((e) => e.workflowTaskCompletedEventAttributes).length).toBeGreaterThan(1);
    } finally {
      await close();
    }
  });
});
