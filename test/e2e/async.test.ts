import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { generateTokens } from '../../simulator/text.js';
import { api, pollJob } from '../support/jobs.js';
import { openai, temporalClient, testStack, withDb } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { startReceiver } from '../support/webhook-receiver.js';

const messages = [{ role: 'user', content: 'Async, please.' }];
const asyncBody = (extra: Record<string, unknown> = {}) => ({ model: 'qwen3:0.6b', mode: 'async', messages, ...extra });

describe('async jobs', () => {
  it('answers 202 with the seed’s body and the job completes with the sync body for the same seed', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody({ seed: 5, metadata: { batch: 'b1', row: '7' } }) });
    expect(accepted.status).toBe(202);
    const jobId = accepted.json.poll_url.split('/').at(-1);
    expect(accepted.json).toEqual({ id: `chatcmpl-${jobId}`, object: 'chat.completion.async', status: 'queued', poll_url: `/v1/jobs/${jobId}`, created: expect.any(Number) });

    const job = await pollJob(accepted.json.poll_url);
    expect(job).toMatchObject({ id: jobId, object: 'chat.completion.job', status: 'completed', model: 'qwen3:0.6b', metadata: { batch: 'b1', row: '7' } });
    const sync = await openai().chat.completions.create({ model: 'qwen3:0.6b', messages: messages as never, seed: 5 });
    expect(job.result).toMatchObject({ id: `chatcmpl-${jobId}`, object: 'chat.completion', choices: sync.choices, usage: sync.usage });
    expect(job.result!.choices[0].message.content).toBe(generateTokens(5, messages).tokens.join(''));
    // The completion id works as the job id too.
    expect((await api(`/v1/jobs/chatcmpl-${jobId}`)).json.status).toBe('completed');
  });

  it('sets the metadata as the workflow memo', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody({ metadata: { team: 'ops' } }) });
    const { client, close } = await temporalClient();
    try {
      expect((await client.workflow.getHandle(accepted.json.id).describe()).memo).toMatchObject({ metadata: { team: 'ops' } });
    } finally {
      await close();
    }
  });

  it('refuses synchronously when the job cannot be admitted: no 202, no job to poll', async () => {
    const res = await api('/v1/chat/completions', { body: asyncBody({ model: 'no-such-model' }) });
    expect(res.status).toBe(404);
    expect(res.json.error.code).toBe('model_not_found');
  });

  it('a failed job shows its error', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody({ model: 'broken:latest' }) });
    expect(accepted.status).toBe(202);
    const job = await pollJob(accepted.json.poll_url);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ message: 'model failed to load: broken:latest', status: 500, type: 'server_error' });
  });

  it('another org’s job is a 404, and so is an unknown id', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody() });
    const other = await createTenant();
    expect((await api(accepted.json.poll_url, { key: other.apiKey })).status).toBe(404);
    expect((await api('/v1/jobs/doesnotexist0000')).status).toBe(404);
    expect((await api(`${accepted.json.poll_url}/cancel`, { method: 'POST', key: other.apiKey })).status).toBe(404);
  });

  it('answers from the Postgres projection once the workflow is gone from Temporal', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody({ seed: 9 }) });
    const before = await pollJob(accepted.json.poll_url);
    const { client, close } = await temporalClient();
    try {
      await client.workflowService.deleteWorkflowExecution({ namespace: testStack().namespace, workflowExecution: { workflowId: accepted.json.id } });
      // Deletion is asynchronous on the server (a few seconds on the dev server).
      const end = Date.now() + 40_000;
      for (;;) {
        const gone = await client.workflow.getHandle(accepted.json.id).describe().then(() => false, () => true);
        if (gone) break;
        if (Date.now() > end) throw new Error('workflow was not deleted');
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await close();
    }
    const after = await api(accepted.json.poll_url);
    expect(after.status).toBe(200);
    expect(after.json).toEqual(before);
    const other = await createTenant();
    expect((await api(accepted.json.poll_url, { key: other.apiKey })).status).toBe(404);
  });

  it('cancel of a finished job is a no-op that still answers 200 with the job', async () => {
    const accepted = await api('/v1/chat/completions', { body: asyncBody() });
    const done = await pollJob(accepted.json.poll_url);
    const cancel = await api(`${accepted.json.poll_url}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(cancel.json).toEqual(done);
  });
});

describe('webhooks', () => {
  it('POSTs the sync body, signed with X-Genie-Signature and Standard Webhooks headers', async () => {
    const receiver = await startReceiver();
    try {
      for (const secret of ['plain-secret-value', `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`]) {
        const accepted = await api('/v1/chat/completions', { body: asyncBody({ webhook: { url: receiver.url, secret } }) });
        await receiver.until((r) => r.some((w) => w.headers['webhook-id'] === accepted.json.id));
        const hook = receiver.received.find((w) => w.headers['webhook-id'] === accepted.json.id)!;
        const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(hook.body).digest('hex');
        expect(hook.headers['x-genie-signature']).toBe(`sha256=${expected}`);
        const wh = secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });
        expect(wh.verify(hook.body, hook.headers as Record<string, string>)).toMatchObject({ id: accepted.json.id, object: 'chat.completion' });
        const job = await pollJob(accepted.json.poll_url, (j) => j.webhook?.status === 'delivered');
        expect(JSON.parse(hook.body)).toEqual(job.result);
        expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200, last_error: null });
      }
    } finally {
      await receiver.close();
    }
  });

  it('retries a receiver that fails its first attempts and delivers exactly once', async () => {
    const receiver = await startReceiver((n) => (n < 2 ? 500 : 200));
    try {
      const accepted = await api('/v1/chat/completions', { body: asyncBody({ webhook: { url: receiver.url, secret: 'retry-secret' } }) });
      const job = await pollJob(accepted.json.poll_url, (j) => j.webhook?.status === 'delivered');
      expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 200 });
      await new Promise((r) => setTimeout(r, 1000)); // nothing more may arrive
      expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200]);
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).toEqual(new Set([accepted.json.id]));
    } finally {
      await receiver.close();
    }
  });

  it('410 Gone stops the retries', async () => {
    const receiver = await startReceiver(() => 410);
    try {
      const accepted = await api('/v1/chat/completions', { body: asyncBody({ webhook: { url: receiver.url, secret: 'gone-secret' } }) });
      const job = await pollJob(accepted.json.poll_url, (j) => j.webhook?.status === 'failed');
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 410 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('gives up after the schedule, recording every attempt', async () => {
    const receiver = await startReceiver(() => 503);
    try {
      const accepted = await api('/v1/chat/completions', { body: asyncBody({ webhook: { url: receiver.url, secret: 'down-secret' } }) });
      const job = await pollJob(accepted.json.poll_url, (j) => j.webhook?.status === 'failed');
      expect(job.webhook).toMatchObject({ status: 'failed', attempts: 5, last_status_code: 503, last_error: 'receiver answered 503' });
      expect(receiver.received).toHaveLength(5);
    } finally {
      await receiver.close();
    }
  });

  it('a failed job’s webhook is the job object itself', async () => {
    const receiver = await startReceiver();
    try {
      const accepted = await api('/v1/chat/completions', { body: asyncBody({ model: 'broken:latest', webhook: { url: receiver.url, secret: 'fail-secret' } }) });
      await receiver.until((r) => r.length === 1);
      expect(JSON.parse(receiver.received[0].body)).toMatchObject({ object: 'chat.completion.job', status: 'failed', error: { message: 'model failed to load: broken:latest' } });
      expect(accepted.status).toBe(202);
    } finally {
      await receiver.close();
    }
  });

  it('100 concurrent async jobs all complete and are all delivered', async () => {
    const receiver = await startReceiver();
    try {
      const accepted = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          api('/v1/chat/completions', { body: asyncBody({ messages: [{ role: 'user', content: `job ${i}` }], webhook: { url: receiver.url, secret: 'bulk-secret' } }) }),
        ),
      );
      expect(accepted.every((a) => a.status === 202)).toBe(true);
      const ids = new Set(accepted.map((a) => a.json.id));
      expect(ids.size).toBe(100);
      await receiver.until((r) => new Set(r.map((w) => w.headers['webhook-id'])).size === 100, 60_000);
      expect(receiver.received).toHaveLength(100);
      expect(new Set(receiver.received.map((w) => w.headers['webhook-id']))).toEqual(ids);
      const jobs = await Promise.all(accepted.map((a) => pollJob(a.json.poll_url)));
      expect(jobs.every((j) => j.status === 'completed')).toBe(true);
    } finally {
      await receiver.close();
    }
  });
});

describe('Idempotency-Key', () => {
  const key = () => `key-${Math.random().toString(36).slice(2)}`;

  it('same key and body → the same job, no second inference; a different body → 409', async () => {
    const k = key();
    const body = asyncBody({ seed: 21 });
    const first = await api('/v1/chat/completions', { body, headers: { 'idempotency-key': k } });
    const again = await api('/v1/chat/completions', { body: { ...body, messages: [...messages] }, headers: { 'idempotency-key': k } });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json.id).toBe(first.json.id);
    await pollJob(first.json.poll_url);
    const afterDone = await api('/v1/chat/completions', { body, headers: { 'idempotency-key': k } });
    expect(afterDone.json.id).toBe(first.json.id);
    const conflict = await api('/v1/chat/completions', { body: { ...body, seed: 22 }, headers: { 'idempotency-key': k } });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('idempotency_key_reused');
    const rows = await withDb((db) => db.query('select count(*)::int as n from usage_records where workflow_id = $1', [first.json.id]));
    expect(rows.rows[0].n).toBe(1);
  });

  it('a keyed stream, retried after it finished, is replayed as SSE: same id, same chunks, no second inference', async () => {
    const k = key();
    const body = { model: 'qwen3:0.6b', messages, seed: 8, stream: true, stream_options: { include_usage: true } };
    const read = async () => {
      const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}`, 'idempotency-key': k },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(200);
      const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
      const chunks = events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e));
      return { events, id: chunks[0].id, text: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), usage: chunks.at(-1).usage, finish: chunks.flatMap((c) => c.choices.map((x: { finish_reason: string }) => x.finish_reason)).filter(Boolean) };
    };
    const first = await read();
    const { client, close } = await temporalClient();
    try {
      await client.workflow.getHandle(first.id).result();
    } finally {
      await close();
    }
    const again = await read();
    expect(again.id).toBe(first.id);
    expect(again.text).toBe(first.text);
    expect(again.text).toBe(generateTokens(8, messages).tokens.join(''));
    expect(again.finish).toEqual(['stop']);
    expect(again.usage).toEqual(first.usage);
    expect(again.events.at(-1)).toBe('[DONE]');
    const rows = await withDb((db) => db.query('select count(*)::int as n from usage_records where workflow_id = $1', [first.id]));
    expect(rows.rows[0].n).toBe(1);
  });

  it('a keyed sync request returns the same completion on retry', async () => {
    const k = key();
    const body = { model: 'qwen3:0.6b', messages, seed: 3 };
    const a = await api('/v1/chat/completions', { body, headers: { 'idempotency-key': k } });
    const b = await api('/v1/chat/completions', { body, headers: { 'idempotency-key': k } });
    expect(a.status).toBe(200);
    expect(b.json).toEqual(a.json);
    const c = await api('/v1/chat/completions', { body: { ...body, seed: 4 }, headers: { 'idempotency-key': k } });
    expect(c.status).toBe(409);
  });
});
