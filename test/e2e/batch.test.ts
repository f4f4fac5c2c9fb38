import { toFile } from 'openai';
import { api } from '../support/jobs.js';
import { jsonl, line, pollBatch, readLines, sdk, submitBatch } from '../support/batches.js';
import { temporalClient, testStack } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { generateTokens } from '../../simulator/text.js';
import { lineJobId } from '../../protocol/batch-ids.js';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { startReceiver } from '../support/webhook-receiver.js';

// The Batch API through the official npm SDK against the shared stack: files, batches, output and error
// files, validation, tenancy.

const ask = (i: number, extra: Record<string, unknown> = {}) => ({ model: 'qwen3:0.6b', seed: i, max_tokens: 16, messages: [{ role: 'user', content: `batch line ${i}` }], ...extra });

describe('the Batch API (npm SDK)', () => {
  it('uploads, runs to completed, and writes every custom_id once: answers to the output file, errors to the error file', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    const lines = Array.from({ length: 12 }, (_, i) => line(`req-${i}`, ask(i)));
    lines.push(line('req-broken', { model: 'broken:latest', messages: [{ role: 'user', content: 'x' }] }));
    lines.push(line('req-lite', { model: 'lite', messages: [{ role: 'user', content: 'persona' }], max_tokens: 8 }));
    const created = await submitBatch(client, lines, { metadata: { run: 'npm' } });
    expect(created).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'npm' } });
    expect(created.id).toMatch(/^batch_/);

    const done = await pollBatch(client, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 14, completed: 13, failed: 1 });
    expect(done.in_progress_at).toEqual(expect.any(Number));
    expect(done.finalizing_at).toEqual(expect.any(Number));
    expect(done.completed_at).toEqual(expect.any(Number));

    const output = await readLines(client, done.output_file_id);
    const errors = await readLines(client, done.error_file_id);
    const ids = [...output, ...errors].map((l) => l.custom_id);
    expect(ids.sort()).toEqual(lines.map((l) => l.custom_id).sort());
    // Input-line order, as documented.
    expect(output.map((l) => l.custom_id)).toEqual(lines.map((l) => l.custom_id).filter((c) => c !== 'req-broken'));
    for (const [i, l] of output.slice(0, 12).entries()) {
      expect(l).toMatchObject({ id: expect.stringMatching(/^batch_req_/), response: { status_code: 200, request_id: expect.stringMatching(/^chatcmpl-/) }, error: null });
      expect(l.response!.body).toMatchObject({ object: 'chat.completion', id: l.response!.request_id, model: 'qwen3:0.6b' });
      expect(l.response!.body.choices[0].message.content).toBe(generateTokens(i, ask(i).messages).tokens.slice(0, 16).join(''));
    }
    expect(output.at(-1)!.response!.body.model).toBe('qwen3:0.6b'); // `lite` resolved
    expect(errors).toEqual([
      { id: expect.stringMatching(/^batch_req_/), custom_id: 'req-broken', response: { status_code: 500, request_id: expect.any(String), body: { error: expect.objectContaining({ message: 'model failed to load: broken:latest', type: 'server_error' }) } }, error: null },
    ]);

    // Each line is a job too, visible to its org.
    const job = await api(`/v1/jobs/${output[0].response!.request_id}`, { key: t.apiKey });
    expect(job.json).toMatchObject({ status: 'completed' });

    // Files and batches list, newest first, with the SDK's cursor pagination.
    const files = [];
    for await (const f of client.files.list()) files.push(f);
    expect(files.map((f) => f.id)).toEqual(expect.arrayContaining([done.input_file_id, done.output_file_id, done.error_file_id]));
    expect(files.find((f) => f.id === done.output_file_id)).toMatchObject({ object: 'file', purpose: 'batch_output', status: 'processed' });
    const second = await submitBatch(client, [line('only', ask(99))]);
    const listed = [];
    for await (const b of client.batches.list({ limit: 1 })) listed.push(b.id);
    expect(listed).toEqual([second.id, created.id]);
    await pollBatch(client, second.id);

    expect(await client.files.delete(done.input_file_id)).toEqual({ id: done.input_file_id, object: 'file', deleted: true });
    await expect(client.files.retrieve(done.input_file_id)).rejects.toMatchObject({ status: 404 });
  });

  it('fails a malformed input file with every problem named by its line number', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    const text = [
      JSON.stringify(line('ok-1', ask(1))),
      '{"custom_id": "bad-json", ',
      JSON.stringify({ ...line('wrong-url', ask(3)), url: '/v1/embeddings' }),
      JSON.stringify(line('ok-1', ask(4))),
      JSON.stringify({ custom_id: 'no-body', method: 'POST', url: '/v1/chat/completions' }),
      JSON.stringify(line('bad-body', { model: 'qwen3:0.6b', messages: [] })),
      JSON.stringify(line('ok-7', ask(7))),
    ].join('\n');
    const file = await client.files.create({ file: await toFile(Buffer.from(text), 'bad.jsonl'), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const done = await pollBatch(client, created.id);
    expect(done.status).toBe('failed');
    expect(done.failed_at).toEqual(expect.any(Number));
    expect(done.output_file_id).toBeNull();
    expect(done.errors!.data!.map((e) => [e.line, e.code, e.param])).toEqual([
      [2, 'invalid_json_line', null],
      [3, 'invalid_url', 'url'],
      [4, 'duplicate_custom_id', 'custom_id'],
      [5, 'missing_required_parameter', 'body'],
      [6, 'invalid_request', 'body.messages'],
    ]);
    expect(done.errors!.data![2].message).toContain('line 1');
    expect(done.request_counts).toEqual({ total: 0, completed: 0, failed: 0 });
  });

  it('refuses what the route can check at once: unknown file, wrong endpoint, wrong window', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    await expect(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl([line('a', ask(1))])), 'in.jsonl'), purpose: 'batch' });
    await expect(client.batches.create({ input_file_id: file.id, endpoint: '/v1/embeddings' as never, completion_window: '24h' })).rejects.toMatchObject({ status: 400, param: 'endpoint' });
    await expect(client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '1h' as never })).rejects.toMatchObject({ status: 400, param: 'completion_window' });
    await expect(client.files.create({ file: await toFile(Buffer.from('x'), 'x.jsonl'), purpose: 'fine-tune' })).rejects.toMatchObject({ status: 400, param: 'purpose' });
  });

  it("another org's file and batch are 404 on every route", async () => {
    const owner = await createTenant();
    const other = await createTenant();
    const mine = sdk(testStack().apiUrl, owner.apiKey);
    const theirs = sdk(testStack().apiUrl, other.apiKey);
    const batch = await submitBatch(mine, [line('a', ask(1))]);
    const fileId = batch.input_file_id;
    for (const call of [
      () => theirs.files.retrieve(fileId),
      () => theirs.files.content(fileId),
      () => theirs.files.delete(fileId),
      () => theirs.batches.create({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      () => theirs.batches.retrieve(batch.id),
      () => theirs.batches.cancel(batch.id),
    ]) {
      await expect(call()).rejects.toMatchObject({ status: 404 });
    }
    const listed = [];
    for await (const b of theirs.batches.list()) listed.push(b.id);
    expect(listed).not.toContain(batch.id);
    const files = [];
    for await (const f of theirs.files.list()) files.push(f.id);
    expect(files).not.toContain(fileId);
    expect((await pollBatch(mine, batch.id)).status).toBe('completed');
  });

  it('the batch and its lines are findable in Temporal by GenieBatchId', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    const batch = await pollBatch(client, (await submitBatch(client, [line('a', ask(1)), line('b', ask(2))])).id);
    const { client: temporal, close } = await temporalClient();
    try {
      const found: Array<{ type: string; id: string }> = [];
      const end = Date.now() + 20_000;
      while (found.length < 3 && Date.now() < end) {
        found.length = 0;
        for await (const w of temporal.workflow.list({ query: `GenieBatchId = "${batch.id}" AND GenieOrgId = "${t.orgId}"` })) found.push({ type: w.type, id: w.workflowId });
        if (found.length < 3) await new Promise((r) => setTimeout(r, 300));
      }
      expect(found.map((f) => f.type).sort()).toEqual(['batchLine', 'batchLine', 'batchRun']);
    } finally {
      await close();
    }
  });

  it('runs on the workers only: the batch and its lines are on genie-batches, which no API process polls', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    const batch = await pollBatch(client, (await submitBatch(client, [line('a', ask(3)), line('b', ask(4)), line('c', ask(5))])).id);
    expect(batch.status).toBe('completed');
    const { client: temporal, close } = await temporalClient();
    try {
      const { namespace } = testStack();
      const pollers = async (name: string, kind: 'TASK_QUEUE_TYPE_WORKFLOW' | 'TASK_QUEUE_TYPE_ACTIVITY') =>
        new Set(
          ((await temporal.workflowService.describeTaskQueue({ namespace, taskQueue: { name }, taskQueueType: kind === 'TASK_QUEUE_TYPE_WORKFLOW' ? 1 : 2 })).pollers ?? []).map((p) => p.identity!),
        );
      // Only worker processes poll genie-inference: they are the whole set polling genie-batches.
      const workers = await pollers('genie-inference', 'TASK_QUEUE_TYPE_ACTIVITY');
      const shared = await pollers('genie-workflows', 'TASK_QUEUE_TYPE_WORKFLOW');
      const batches = await pollers('genie-batches', 'TASK_QUEUE_TYPE_WORKFLOW');
      expect(workers.size).toBeGreaterThan(0);
      expect([...batches].sort()).toEqual([...workers].sort());
      // The APIs poll the shared queue (their completions' fallback), never the batches'.
      expect([...shared].some((id) => !workers.has(id))).toBe(true);

      for (const id of [batch.id, `chatcmpl-${lineJobId(batch.id, 0)}`]) {
        const handle = temporal.workflow.getHandle(id);
        expect((await handle.describe()).taskQueue).toBe('genie-batches');
        // Every workflow task of theirs was completed by a worker process.
        const tasks = ((await handle.fetchHistory()).events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes);
        expect(tasks.length).toBeGreaterThan(0);
        for (const e of tasks) expect(workers.has(e.workflowTaskCompletedEventAttributes!.identity!)).toBe(true);
      }
    } finally {
      await close();
    }
  });

  it('delivers the final batch object to its webhook, signed as async jobs are', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    const receiver = await startReceiver((n) => (n === 0 ? 500 : 200)); // the retry schedule applies too
    try {
      const secret = 'batch-hook-secret';
      const batch = await submitBatch(client, [line('w-1', ask(1)), line('w-2', ask(2))], { webhook: { url: receiver.url, secret } });
      await receiver.until((r) => r.some((w) => w.status === 200));
      const hook = receiver.received.at(-1)!;
      expect(hook.headers['webhook-id']).toBe(batch.id);
      expect(hook.headers['x-genie-signature']).toBe(`sha256=${createHmac('sha256', secret).update(hook.body).digest('hex')}`);
      expect(new Webhook(secret, { format: 'raw' }).verify(hook.body, hook.headers as Record<string, string>)).toMatchObject({ id: batch.id, object: 'batch', status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } });
      expect(receiver.received.map((r) => r.status)).toEqual([500, 200]);
      const after = await pollBatch(client, batch.id, (b) => (b as unknown as { webhook?: { status: string } }).webhook?.status === 'delivered');
      expect((after as unknown as { webhook: unknown }).webhook).toMatchObject({ url: receiver.url, status: 'delivered', attempts: 2, last_status_code: 200 });
    } finally {
      await receiver.close();
    }
  });

  it('counts lines by outcome in genie_batch_lines_total', async () => {
    const t = await createTenant();
    const client = sdk(testStack().apiUrl, t.apiKey);
    await pollBatch(client, (await submitBatch(client, [line('m-1', ask(1))])).id);
    const metrics = await Promise.all(testStack().workerMetricsUrls.concat(testStack().apiUrls.map((u) => `${u}/metrics`)).map((u) => fetch(u).then((r) => r.text())));
    expect(metrics.some((m) => /genie_batch_lines_total\{outcome="completed"\} [1-9]/.test(m))).toBe(true);
  });
});
