import { randomUUID } from 'node:crypto';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startPostgres, type RunningPostgres } from '../../workers/stack/postgres.js';
import { freePort } from '../../workers/stack/free-port.js';
import { newId } from '../../db/ids.js';
import { budgetCheck } from '../support/budget-check.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob, type Job } from '../support/jobs.js';
import { sample, scrape } from '../support/prometheus.js';
import { temporalClient, testStack, withDb } from '../support/stack.js';
import { createTenant, createTenantIn, putCap } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';
import { startReceiver } from '../support/webhook-receiver.js';

// Reservations nobody settles (issue 15): a workflow closed from outside leaves its reservation held
// until the deployment's sweeper (a Temporal Schedule) releases it, and `genie budget-check` fails
// while one is left; settlement itself retries through a Postgres outage instead of giving up.

const GRACE_MS = 5000;

const orgCounters = (db: pg.Client, orgId: string) =>
  db
    .query(`select spent_micro_usd::int as spent, reserved_micro_usd::int as reserved from cap_usage where layer = 'org' and subject_id = $1`, [orgId])
    .then((r) => r.rows[0] as { spent: number; reserved: number } | undefined);

const ledgerOf = (db: pg.Client, workflowId: string) =>
  db
    .query(`select step, reserved_delta::int as reserved, spent_delta::int as spent from budget_ledger where workflow_id = $1 order by step, layer`, [workflowId])
    .then((r) => r.rows as Array<{ step: string; reserved: number; spent: number }>);

describe('the budget sweeper', () => {
  let slow: Simulator;
  let genie: IsolatedGenie;
  const lines: string[] = [];
  const swept = async (metric: string, status: string) => sample(await scrape(genie.workers[0].ready.metricsUrl as string), metric, { workflow_status: status });

  beforeAll(async () => {
    // A node whose generations last over a minute (500 tokens, 150 ms each, run to max_tokens): every
    // generation is still running when the test acts. Its first token comes at once, so its probes are
    // answered (a node silent for a minute was judged hung after three probe timeouts: 503s for a while).
    slow = await startSimulator({ port: 0, models: ['sweep-model'], timeToFirstToken: 50, interTokenLatency: 150, ignoreEos: true });
    genie = await startIsolatedGenie({
      nodes: `sweep-node:vllm=${slow.url}`,
      env: { GENIE_SWEEP_INTERVAL_MS: '1000', GENIE_SWEEP_GRACE_MS: String(GRACE_MS) },
      onLine: (_p, line) => lines.push(line),
    });
    // 1 µUSD per token either way.
    await api('/admin/v1/prices/sweep-model', { method: 'PUT', key: testStack().adminToken, body: { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 } });
  });
  afterAll(async () => {
    await genie?.stop();
    await slow?.close();
  });

  it('is a Temporal Schedule of the deployment, created at worker start, running budgetSweep every GENIE_SWEEP_INTERVAL_MS', async () => {
    const { client, close } = await temporalClient();
    try {
      const desc = await client.schedule.getHandle(`${genie.queuePrefix}genie-budget-sweep`).describe();
      expect(desc.spec.intervals).toEqual([expect.objectContaining({ every: 1000 })]);
      expect(desc.action).toMatchObject({ workflowType: 'budgetSweep', taskQueue: `${genie.queuePrefix}genie-workflows`, args: [{ queue: `${genie.queuePrefix}genie-inference`, graceMs: GRACE_MS }] });
      // It really runs: sweeps complete.
      await waitFor('a completed sweep', async () => (await client.schedule.getHandle(`${genie.queuePrefix}genie-budget-sweep`).describe()).info.recentActions.length > 0, 30_000, 500);
    } finally {
      await close();
    }
  });

  it('a reservation leaked on purpose fails budget-check until the sweeper releases it: nothing reserved, nothing spent, counted and logged', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000);
    const { client, close } = await temporalClient();
    const schedule = client.schedule.getHandle(`${genie.queuePrefix}genie-budget-sweep`);
    const before = { count: await swept('genie_budget_swept_reservations_total', 'NOT_FOUND'), microUsd: await swept('genie_budget_swept_micro_usd_total', 'NOT_FOUND') };
    const leaked = `chatcmpl-leak-${newId()}`;
    try {
      // Paused, so that budget-check sees the leak before the sweeper does.
      await schedule.pause('test: budget-check first');
      // What an admission does, for a workflow Temporal never knew.
      await withDb((db) =>
        db.query(`select * from genie_reserve($1, $2, $3::text[], $4::text[], $5, now())`, [
          leaked,
          randomUUID(), // a run id Temporal never issued
          ['org', 'application', 'member', 'user'],
          [t.orgId, t.applicationId, t.memberId, t.userId],
          777,
        ]),
      );
      expect(await withDb((db) => orgCounters(db, t.orgId))).toEqual({ spent: 0, reserved: 777 });

      const check = budgetCheck();
      expect(check.ok).toBe(false);
      expect(check.output).toContain('ok: every counter equals the sum of its ledger rows'); // consistent, yet leaked
      expect(check.output).toContain(leaked);
      expect(check.output).toContain('NOT_FOUND');
    } finally {
      await schedule.unpause('test: sweep again');
      await close();
    }

    await waitFor('the sweeper to release the leak', () => withDb((db) => orgCounters(db, t.orgId)).then((c) => c?.reserved === 0));
    expect(await withDb((db) => orgCounters(db, t.orgId))).toEqual({ spent: 0, reserved: 0 });
    expect(await withDb((db) => ledgerOf(db, leaked))).toEqual([
      { step: 'reserve', reserved: 777, spent: 0 },
      { step: 'settle', reserved: -777, spent: 0 },
    ]);
    expect(await swept('genie_budget_swept_reservations_total', 'NOT_FOUND')).toBeGreaterThanOrEqual(before.count + 1);
    expect(await swept('genie_budget_swept_micro_usd_total', 'NOT_FOUND')).toBeGreaterThanOrEqual(before.microUsd + 777);
    await waitFor('its log line', async () => lines.some((l) => l.includes('released a leaked reservation') && l.includes(leaked)), 10_000);
    // Nothing left open by a workflow that is not running (other tests' leaks, if any, are swept too).
    await waitFor('budget-check to pass', async () => budgetCheck().ok, 60_000, 1000);
  }, 120_000);

  it('a workflow terminated mid-generation: its reservation is released by the sweeper, no spend booked', async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000_000);
    const before = await swept('genie_budget_swept_micro_usd_total', 'TERMINATED');
    // An honest 503 (the node judged unavailable for a moment on a machine loaded by the rest of the
    // suite) is not what this test is about: ask again until the job is accepted.
    const start = () => api('/v1/chat/completions', { base: genie.apiUrl, key: t.apiKey, body: { model: 'sweep-model', mode: 'async', max_tokens: 500, messages: [{ role: 'user', content: 'Never mind.' }] } });
    let accepted = await start();
    for (const end = Date.now() + 30_000; accepted.status === 503 && Date.now() < end; ) {
      await new Promise((r) => setTimeout(r, 500));
      accepted = await start();
    }
    expect({ status: accepted.status, body: accepted.status === 202 ? null : accepted.json }).toEqual({ status: 202, body: null });
    await pollJob(accepted.json.poll_url, (j) => j.status === 'in_progress', { base: genie.apiUrl, key: t.apiKey });
    const reserved = (await withDb((db) => orgCounters(db, t.orgId)))!.reserved;
    expect(reserved).toBeGreaterThan(500);

    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(accepted.json.id);
      await handle.terminate('test: an operator terminates a completion mid-generation');
      expect((await handle.describe()).status.name).toBe('TERMINATED');
    } finally {
      await close();
    }
    await waitFor('the sweeper to release the terminated workflow’s reservation', () => withDb((db) => orgCounters(db, t.orgId)).then((c) => c?.reserved === 0));
    expect(await withDb((db) => orgCounters(db, t.orgId))).toEqual({ spent: 0, reserved: 0 });
    expect(await withDb((db) => ledgerOf(db, accepted.json.id))).toEqual([
      { step: 'reserve', reserved, spent: 0 },
      { step: 'settle', reserved: -reserved, spent: 0 },
    ]);
    expect(await swept('genie_budget_swept_micro_usd_total', 'TERMINATED')).toBeGreaterThanOrEqual(before + reserved);
    await waitFor('budget-check to pass', async () => budgetCheck().ok, 60_000, 1000);
  }, 120_000);
});

// The shared test Postgres cannot be stopped (every other test uses it): this deployment runs on a
// Postgres of its own, stopped and started again by the test.
describe('settlement through a Postgres outage', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  let postgres: RunningPostgres;
  let pgOpts: Parameters<typeof startPostgres>[0];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secondOutage: Promise<void> | null = null;
  // Postgres is away for longer than the ~15 s the settlement's retries used to last.
  const OUTAGE_MS = 20_000;

  beforeAll(async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-outage-pg-'));
    chmodSync(dataDir, 0o777);
    pgOpts = { dataDir, port: await freePort(), database: 'genie' };
    postgres = await startPostgres(pgOpts);
    // The first delivery is refused, and right after it Postgres goes away again: the second (and last)
    // attempt's secret lookup meets the outage and must wait for Postgres, not use up the last slot.
    receiver = await startReceiver((n) => {
      if (n === 0) secondOutage = (async () => {
        await new Promise((r) => setTimeout(r, 300)); // the attempt's projection lands first
        await postgres.stop();
        await new Promise((r) => setTimeout(r, 8000));
        postgres = await startPostgres(pgOpts);
      })();
      return n === 0 ? 500 : 200;
    });
    sim = await startSimulator({ port: 0, models: ['outage-model'], timeToFirstToken: 3000 });
    genie = await startIsolatedGenie({
      nodes: `outage-node:vllm=${sim.url}`,
      env: { DATABASE_URL: postgres.url, GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1', GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,3s' },
    });
    const price = await api('/admin/v1/prices/outage-model', { base: genie.apiUrl, method: 'PUT', key: testStack().adminToken, body: { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 } });
    expect(price.status).toBe(200);
  }, 120_000);
  afterAll(async () => {
    await secondOutage?.catch(() => undefined);
    await genie?.stop();
    await sim?.close();
    await receiver?.close();
    await postgres?.stop().catch(() => undefined);
    rmSync(pgOpts.dataDir, { recursive: true, force: true });
  });

  it('Postgres stopped while a sync completion generates, for longer than the old retries: the workflow keeps settling, and settles exactly once when Postgres is back', async () => {
    const t = await createTenantIn(postgres.url);
    await putCap('org', t.orgId, 'day', 1_000_000_000, genie.apiUrl);
    const own = new pg.Client({ connectionString: postgres.url });
    await own.connect();
    await own.query('select 1');
    const answer = api('/v1/chat/completions', { base: genie.apiUrl, key: t.apiKey, body: { model: 'outage-model', max_tokens: 20, messages: [{ role: 'user', content: 'Settle me later.' }] } });
    // Admitted (reserved): Postgres goes away while the node generates.
    await waitFor('the admission', () => orgCounters(own, t.orgId).then((c) => (c?.reserved ?? 0) > 0), 30_000, 50);
    await own.end();
    await postgres.stop();
    // The caller is answered all the same; settling before the answer failed, so the workflow settles.
    const res = await answer;
    expect(res.status).toBe(200);
    const answered = Date.now();
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(res.json.id);
      await waitFor(`${OUTAGE_MS} ms of settling without Postgres`, async () => Date.now() - answered >= OUTAGE_MS, OUTAGE_MS + 5000, 500);
      // Still running: the old settlement (10 attempts, ~11 s) failed the workflow here, leaking the reservation.
      expect((await handle.describe()).status.name).toBe('RUNNING');
      postgres = await startPostgres(pgOpts);
      expect(await handle.result()).toMatchObject({ status: 'completed' });
    } finally {
      await close();
    }
    const db = new pg.Client({ connectionString: postgres.url });
    await db.connect();
    try {
      const cost = res.json.usage.prompt_tokens + res.json.usage.completion_tokens;
      expect(await orgCounters(db, t.orgId)).toEqual({ spent: cost, reserved: 0 });
      const ledger = await ledgerOf(db, res.json.id);
      expect(ledger.map((l) => l.step)).toEqual(['reserve', 'settle']);
      expect(ledger[1]).toEqual({ step: 'settle', reserved: -ledger[0].reserved, spent: cost });
      expect((await db.query('select outcome from usage_records where workflow_id = $1', [res.json.id])).rows).toEqual([{ outcome: 'completed' }]);
    } finally {
      await db.end();
    }
  }, 180_000);

  it('Postgres stopped while an async job generates, then again during its webhook: settled exactly once, projected, webhook delivered on its last slot', async () => {
    const t = await createTenantIn(postgres.url);
    await putCap('org', t.orgId, 'day', 1_000_000_000, genie.apiUrl);
    const accepted = await api('/v1/chat/completions', {
      base: genie.apiUrl,
      key: t.apiKey,
      body: { model: 'outage-model', mode: 'async', max_tokens: 50, messages: [{ role: 'user', content: 'Outlast the outage.' }], webhook: { url: receiver.url, secret: 'outage-secret' } },
    });
    expect(accepted.status).toBe(202);
    await pollJob(accepted.json.poll_url, (j) => j.status === 'in_progress', { base: genie.apiUrl, key: t.apiKey });

    await postgres.stop();
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(accepted.json.id);
      // The node answers while Postgres is away: from then on the workflow is settling.
      await waitFor('the node call to end', async () => ((await handle.fetchHistory()).events ?? []).some((e) => e.activityTaskCompletedEventAttributes), 30_000, 250);
      const generated = Date.now();
      await waitFor(`${OUTAGE_MS} ms of settling without Postgres`, async () => Date.now() - generated >= OUTAGE_MS, OUTAGE_MS + 5000, 500);
      // Still running: settlement did not give up (it used to fail the workflow here, leaking the reservation).
      expect((await handle.describe()).status.name).toBe('RUNNING');
      postgres = await startPostgres(pgOpts);

      // Polled through the API, which needs Postgres too: it answers errors during the second outage.
      const job = await waitFor(
        'the webhook to be delivered',
        () => api(accepted.json.poll_url, { base: genie.apiUrl, key: t.apiKey }).then((r) => r.status === 200 && r.json.webhook?.status === 'delivered' && (r.json as Job), () => undefined),
        90_000,
        250,
      );
      expect(job.status).toBe('completed');
      expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 200 });
      expect(receiver.received.map((r) => r.status)).toEqual([500, 200]);
      expect(JSON.parse(receiver.received[1].body)).toEqual(job.result);
      await handle.result();
      await secondOutage;

      // Settled exactly once, at the node's usage; nothing left reserved; the projection is final.
      const db = new pg.Client({ connectionString: postgres.url });
      await db.connect();
      try {
        const usage = job.result!.usage;
        expect(await orgCounters(db, t.orgId)).toEqual({ spent: usage.prompt_tokens + usage.completion_tokens, reserved: 0 });
        const ledger = await ledgerOf(db, accepted.json.id);
        expect(ledger.filter((l) => l.step === 'settle')).toEqual([{ step: 'settle', reserved: -ledger[0].reserved, spent: usage.prompt_tokens + usage.completion_tokens }]);
        expect((await db.query('select outcome from usage_records where workflow_id = $1', [accepted.json.id])).rows).toEqual([{ outcome: 'completed' }]);
        const projected = (await db.query(`select status, view->'webhook'->>'status' as webhook from jobs where workflow_id = $1`, [accepted.json.id])).rows;
        expect(projected).toEqual([{ status: 'completed', webhook: 'delivered' }]);
      } finally {
        await db.end();
      }
    } finally {
      await close();
    }
    expect(budgetCheck({ databaseUrl: postgres.url }).ok).toBe(true);
  }, 240_000);
});
