import { startSimulator, type Simulator } from '../../simulator/server.js';
import { newId } from '../../db/ids.js';
import { loadConfig, retentionMs } from '../../workers/config.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { sample, scrape } from '../support/prometheus.js';
import { temporalClient, withDb } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';

// Retention (issue 16): webhook secrets (plain text) and keyed streams' records were kept for ever, and
// expired Idempotency-Keys too. The deployment's schedule `<prefix>genie-retention-sweep` deletes them
// past the retention — which defaults to the key's lifetime, the least a keyed stream's replay needs —
// and keeps a secret whose workflow still runs (its webhook retries need it).

const HOUR = 3_600_000;
/**
 * This deployment's key lifetime, so its retention (the default). Shorter than every other deployment's
 * sweeping the same Postgres (24 h; batch-retention.test.ts sweeps every second too): the rows below are
 * old to this sweeper only, so its metrics count every deletion.
 */
const TTL_HOURS = 1;

describe('the retention sweeper', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['retention-model'] });
    genie = await startIsolatedGenie({ nodes: `retention-node:vllm=${sim.url}`, env: { GENIE_RETENTION_SWEEP_INTERVAL_MS: '1000', GENIE_IDEMPOTENCY_TTL_HOURS: String(TTL_HOURS) } });
  });
  afterAll(async () => {
    await genie?.stop();
    await sim?.close();
  });

  it('is a Temporal Schedule of the deployment, created at worker start, with the key’s lifetime as the default retention', async () => {
    const { client, close } = await temporalClient();
    try {
      const schedule = client.schedule.getHandle(`${genie.queuePrefix}genie-retention-sweep`);
      const desc = await schedule.describe();
      expect(desc.spec.intervals).toEqual([expect.objectContaining({ every: 1000 })]);
      expect(desc.action).toMatchObject({
        workflowType: 'retentionSweep',
        taskQueue: `${genie.queuePrefix}genie-workflows`,
        args: [{ queue: `${genie.queuePrefix}genie-inference`, retentionMs: TTL_HOURS * HOUR, idempotencyTtlMs: TTL_HOURS * HOUR }],
      });
      await waitFor('a completed sweep', async () => (await schedule.describe()).info.recentActions.length > 0, 30_000, 500);
    } finally {
      await close();
    }
  });

  it('deletes webhook secrets, stream records and Idempotency-Keys older than the retention, keeps younger ones and the secret of a running workflow', async () => {
    const tag = newId();
    const id = (what: string) => `chatcmpl-retention-${what}-${tag}`;
    const org = `org_retention_${tag}`;
    const { client, close } = await temporalClient();
    // A workflow that is running (no worker polls its queue, so it stays so): its old secret must stay.
    const running = await client.workflow.start('retentionTestHolder', { taskQueue: `retention-nobody-${tag}`, workflowId: id('running'), args: [] });
    try {
      await withDb(async (db) => {
        await db.query('begin');
        // Ages in minutes: 90 is past this deployment's hour, 30 within it (and both far within 24 h).
        const secret = `insert into webhook_secrets (workflow_id, secret, created_at) values ($1, 'whsec_retention', now() - make_interval(mins => $2))`;
        await db.query(secret, [id('old'), 90]);
        await db.query(secret, [id('young'), 30]);
        await db.query(secret, [id('running'), 90]);
        const stream = `insert into stream_results (workflow_id, body, created_at) values ($1, '{}'::jsonb, now() - make_interval(mins => $2))`;
        await db.query(stream, [id('old'), 90]);
        await db.query(stream, [id('young'), 30]);
        const key = `insert into idempotency_keys (org_id, key_hash, job_id, created_at) values ($1, $2, $3, now() - make_interval(mins => $4))`;
        await db.query(key, [org, 'expired', `k${tag}a`, 90]);
        await db.query(key, [org, 'live', `k${tag}b`, 30]);
        await db.query('commit');
      });
      const left = () =>
        withDb(async (db) => ({
          secrets: (await db.query('select workflow_id from webhook_secrets where workflow_id like $1 order by workflow_id', [`chatcmpl-retention-%-${tag}`])).rows.map((r) => r.workflow_id),
          streams: (await db.query('select workflow_id from stream_results where workflow_id like $1 order by workflow_id', [`chatcmpl-retention-%-${tag}`])).rows.map((r) => r.workflow_id),
          keys: (await db.query('select key_hash from idempotency_keys where org_id = $1 order by key_hash', [org])).rows.map((r) => r.key_hash),
        }));

      // One sweep deleted the old rows of every table (each of its statements saw the young ones too).
      await waitFor('the old rows to go', async () => {
        const l = await left();
        return !l.secrets.includes(id('old')) && !l.streams.includes(id('old')) && !l.keys.includes('expired');
      }, 30_000, 250);
      expect(await left()).toEqual({ secrets: [id('running'), id('young')], streams: [id('young')], keys: ['live'] });

      // Once its workflow is closed, the old secret goes too.
      await running.terminate('test: the job is over');
      await waitFor('the closed workflow’s secret to go', async () => !(await left()).secrets.includes(id('running')), 30_000, 250);
      expect(await left()).toEqual({ secrets: [id('young')], streams: [id('young')], keys: ['live'] });

      // Counted by this deployment's worker, the only sweeper these rows are old to.
      const metrics = await scrape(genie.workers[0].ready.metricsUrl as string);
      for (const table of ['webhook_secrets', 'stream_results', 'idempotency_keys']) {
        const deleted = sample(metrics, 'genie_retention_deleted_rows_total', { table });
        expect({ table, deleted: deleted >= (table === 'webhook_secrets' ? 2 : 1) }).toEqual({ table, deleted: true });
      }
    } finally {
      await running.terminate('test: cleanup').catch(() => undefined);
      await withDb((db) => db.query('delete from idempotency_keys where org_id = $1', [org]));
      await close();
    }
  }, 90_000);
});

describe('GENIE_RETENTION_HOURS', () => {
  it('defaults to the Idempotency-Key’s lifetime and may not be shorter (a keyed stream replays from its record while its key lives)', () => {
    expect(retentionMs(loadConfig({}))).toBe(24 * HOUR);
    expect(retentionMs(loadConfig({ GENIE_IDEMPOTENCY_TTL_HOURS: '48' }))).toBe(48 * HOUR);
    expect(retentionMs(loadConfig({ GENIE_RETENTION_HOURS: '720' }))).toBe(720 * HOUR);
    expect(() => loadConfig({ GENIE_RETENTION_HOURS: '12' })).toThrow(/GENIE_RETENTION_HOURS: must be at least GENIE_IDEMPOTENCY_TTL_HOURS \(24\)/);
  });
});
