import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startPostgres, type RunningPostgres } from '../../workers/stack/postgres.js';
import { startTemporal, type RunningTemporal } from '../../workers/stack/temporal.js';
import { freePort } from '../../workers/stack/free-port.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, type Job } from '../support/jobs.js';
import { createTenant, createTenantIn } from '../support/tenants.js';
import { startReceiver } from '../support/webhook-receiver.js';
import { waitFor } from '../support/wait-for.js';

// Genie's own dependencies going away (issue 16.3): while Postgres or Temporal is unreachable, a new
// completion gets a fast, honest 503 with Retry-After (never a 500, a hang or the database's text),
// /healthz names the one that is away, and everything comes back by itself when it returns — an async
// job accepted before the outage completes and is delivered after it. The shared test Postgres and
// Temporal cannot be stopped (every other test uses them): each deployment here runs on one of its own.

const messages = [{ role: 'user', content: 'Outlast the outage.' }];
const health = (base: string) => fetch(`${base}/healthz`).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
const chat = (base: string, key: string, body: Record<string, unknown> = {}) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: 'outage-model', max_tokens: 5, messages, ...body }),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), json: (await r.json()) as any }));

/** What a caller must get while a dependency is away: 503 service_unavailable, Retry-After, nothing internal. */
function expectHonest503(res: Awaited<ReturnType<typeof chat>>, dependency: RegExp) {
  expect(res.status).toBe(503);
  expect(res.retryAfter).toMatch(/^\d+$/);
  expect(res.json.error).toMatchObject({ type: 'service_unavailable', code: 'service_unavailable', param: null });
  expect(res.json.error.message).toMatch(dependency);
  expect(res.json.error.message).not.toMatch(/select|insert|update|ECONN|127\.0\.0\.1|grpc|sql/i);
}

/** Polls the job through the API until its webhook was delivered (the API itself may answer errors meanwhile). */
const delivered = (base: string, key: string, pollUrl: string) =>
  waitFor('the webhook to be delivered', () => api(pollUrl, { base, key }).then((r) => r.status === 200 && r.json.webhook?.status === 'delivered' && (r.json as Job), () => undefined), 90_000, 250);

describe('Postgres unreachable', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  let postgres: RunningPostgres;
  let pgOpts: Parameters<typeof startPostgres>[0];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-pg-outage-'));
    chmodSync(dataDir, 0o777);
    pgOpts = { dataDir, port: await freePort(), database: 'genie' };
    postgres = await startPostgres(pgOpts);
    receiver = await startReceiver();
    sim = await startSimulator({ port: 0, models: ['outage-model'], timeToFirstToken: 2000 });
    genie = await startIsolatedGenie({ nodes: `pg-outage:vllm=${sim.url}`, env: { DATABASE_URL: postgres.url, GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
  }, 120_000);
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([sim?.close(), receiver?.close(), postgres?.stop().catch(() => undefined)]);
    rmSync(pgOpts.dataDir, { recursive: true, force: true });
  });

  it('new completions get a fast 503 (cached key or not), /healthz names Postgres; an accepted async job completes and is delivered after it returns', async () => {
    const known = await createTenantIn(postgres.url);
    const unseen = await createTenantIn(postgres.url); // its key is never looked up before the outage
    expect((await chat(genie.apiUrl, known.apiKey)).status).toBe(200); // the key is now in the auth cache
    const accepted = await chat(genie.apiUrl, known.apiKey, { mode: 'async', webhook: { url: receiver.url, secret: 'outage-secret' } });
    expect(accepted.status).toBe(202);

    await postgres.stop();
    expect(await waitFor('/healthz to name Postgres', () => health(genie.apiUrl).then((h) => h.status === 503 && h))).toEqual({
      status: 503,
      body: { status: 'unavailable', postgres: false, temporal: true },
    });
    expectHonest503(await chat(genie.apiUrl, known.apiKey), /database/);
    expectHonest503(await chat(genie.apiUrl, unseen.apiKey), /database/);
    expectHonest503(await chat(genie.apiUrl, known.apiKey, { stream: true }), /database/);

    postgres = await startPostgres(pgOpts);
    // Back by itself: no restart of any Genie process.
    await waitFor('/healthz to answer 200', () => health(genie.apiUrl).then((h) => h.status === 200), 60_000);
    expect((await chat(genie.apiUrl, unseen.apiKey)).status).toBe(200);
    const job = await delivered(genie.apiUrl, known.apiKey, accepted.json.poll_url);
    expect(job.status).toBe('completed');
    expect(receiver.received.map((r) => r.status)).toEqual([200]);
    expect(JSON.parse(receiver.received[0].body)).toEqual(job.result);
  }, 180_000);
});

describe('Temporal unreachable', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  let temporal: RunningTemporal;
  let temporalOpts: Parameters<typeof startTemporal>[0];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    temporalOpts = { dataDir: mkdtempSync(path.join(os.tmpdir(), 'genie-temporal-outage-')), port: await freePort(), uiPort: await freePort(), namespace: 'outage' };
    temporal = await startTemporal(temporalOpts);
    receiver = await startReceiver();
    sim = await startSimulator({ port: 0, models: ['outage-model'], timeToFirstToken: 2000 });
    genie = await startIsolatedGenie({
      nodes: `temporal-outage:vllm=${sim.url}`,
      env: { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporalOpts.namespace, GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' },
    });
  }, 120_000);
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([sim?.close(), receiver?.close(), temporal?.stop().catch(() => undefined)]);
    rmSync(temporalOpts.dataDir, { recursive: true, force: true });
  });

  it('new completions get a fast 503, /healthz names Temporal, job polls answer from Postgres; an accepted async job completes and is delivered after it returns', async () => {
    const t = await createTenant();
    expect((await chat(genie.apiUrl, t.apiKey)).status).toBe(200);
    const accepted = await chat(genie.apiUrl, t.apiKey, { mode: 'async', webhook: { url: receiver.url, secret: 'outage-secret' } });
    expect(accepted.status).toBe(202);

    await temporal.stop();
    expect(await waitFor('/healthz to name Temporal', () => health(genie.apiUrl).then((h) => h.status === 503 && h))).toEqual({
      status: 503,
      body: { status: 'unavailable', postgres: true, temporal: false },
    });
    expectHonest503(await chat(genie.apiUrl, t.apiKey), /workflow service/);
    expectHonest503(await chat(genie.apiUrl, t.apiKey, { mode: 'async' }), /workflow service/);
    // The job is still readable: its workflow cannot answer, its Postgres projection can.
    const polled = await api(accepted.json.poll_url, { base: genie.apiUrl, key: t.apiKey });
    expect(polled.status).toBe(200);
    expect(`chatcmpl-${polled.json.id}`).toBe(accepted.json.id);

    temporal = await startTemporal(temporalOpts);
    await waitFor('/healthz to answer 200', () => health(genie.apiUrl).then((h) => h.status === 200), 60_000);
    // Back by itself: the processes reconnect; a completion may need a moment for the workers' polls.
    await waitFor('a completion to succeed again', () => chat(genie.apiUrl, t.apiKey).then((r) => r.status === 200), 60_000, 500);
    const job = await delivered(genie.apiUrl, t.apiKey, accepted.json.poll_url);
    expect(job.status).toBe('completed');
    expect(JSON.parse(receiver.received.at(-1)!.body)).toEqual(job.result);
  }, 240_000);
});
