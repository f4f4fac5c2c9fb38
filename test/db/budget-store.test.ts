import { MikroORM } from '@mikro-orm/postgresql';
import { BudgetStore } from '../../db/budget-store.js';
import { costMicroUsd } from '../../protocol/budget.js';
import { openOrm } from '../../db/orm.js';
import { newId } from '../../db/ids.js';
import { testStack, withDb } from '../support/stack.js';
import { createTenant, type Tenant } from '../support/tenants.js';

// The cap stack on the real Postgres of the test stack, with an injected clock for window boundaries.

/** One run of a made-up completion (ledger rows belong to a run). */
const run = () => ({ workflowId: newId('wf-'), runId: newId('run-') });
const principal = (t: Tenant) => ({ keyId: t.keyId, orgId: t.orgId, applicationId: t.applicationId, memberId: t.memberId, userId: t.userId });
const cap = (layer: string, subject: string, window: string, limit: number) =>
  withDb((db) =>
    db.query(
      `insert into caps (layer, subject_id, "window", limit_micro_usd) values ($1, $2, $3, $4)
       on conflict (layer, subject_id, "window") do update set limit_micro_usd = excluded.limit_micro_usd`,
      [layer, subject, window, limit],
    ),
  );

describe('BudgetStore on Postgres', () => {
  let orm: MikroORM;
  let clock = new Date('2026-03-31T23:59:30Z');
  let store: BudgetStore;
  beforeAll(async () => {
    orm = await openOrm(testStack().databaseUrl, 40);
    store = new BudgetStore(orm, () => clock);
  });
  afterAll(async () => {
    // This file reserves for made-up workflow ids that never settle: release them, so the suite's
    // budget-check (which reports reservations of workflows Temporal does not know as leaks) stays clean.
    await orm.em.getConnection().execute(
      `select genie_settle(workflow_id, run_id, 0) from (select distinct workflow_id, run_id from budget_ledger l where workflow_id like 'wf-%' and step = 'reserve'
         and not exists (select 1 from budget_ledger s where s.workflow_id = l.workflow_id and s.run_id = l.run_id and s.step = 'settle')) open`,
    );
    await orm.close();
  });
  beforeEach(() => {
    clock = new Date('2026-03-31T23:59:30Z');
  });

  it.each([
    ['org', (t: Tenant) => t.orgId],
    ['application', (t: Tenant) => t.applicationId],
    ['member', (t: Tenant) => t.memberId],
    ['user', (t: Tenant) => t.userId],
  ] as const)('the %s layer trips on its own and reports itself', async (layer, subject) => {
    const t = await createTenant();
    await cap(layer, subject(t), 'hour', 1000);
    expect((await store.reserve(run(), principal(t), 600)).ok).toBe(true);
    const refused = await store.reserve(run(), principal(t), 600);
    // 600 fits the cap's 1000 once the window resets: a batch line would wait for it.
    expect(refused).toEqual({ ok: false, refusal: { layer, window: 'hour', resetsAt: new Date('2026-04-01T00:00:00Z'), fitsAfterReset: true } });
  });

  it('reports the first layer in order org → application → member → user, and reserves nothing when refused', async () => {
    const t = await createTenant();
    await cap('user', t.userId, 'day', 100);
    await cap('member', t.memberId, 'day', 100);
    await cap('application', t.applicationId, 'month', 10_000);
    const refused = await store.reserve(run(), principal(t), 500);
    // 500 exceeds the member cap's whole limit: no reset lets it through.
    expect(refused).toMatchObject({ ok: false, refusal: { layer: 'member', window: 'day', fitsAfterReset: false } });
    // The application cap had room, but the transaction rolled back: nothing is held anywhere.
    expect(await store.usage('application', t.applicationId, 'month')).toMatchObject({ reservedMicroUsd: 0, spentMicroUsd: 0 });
  });

  it('the user layer is global: one user’s spend in one org counts against the same cap in another', async () => {
    const a = await createTenant();
    const b = await createTenant(undefined, { userId: a.userId });
    await cap('user', a.userId, 'day', 1000);
    expect((await store.reserve(run(), principal(a), 700)).ok).toBe(true);
    expect(await store.reserve(run(), principal(b), 700)).toMatchObject({ ok: false, refusal: { layer: 'user' } });
  });

  it('reports the tightest cap’s remaining room and reset time', async () => {
    const t = await createTenant();
    await cap('org', t.orgId, 'month', 10_000);
    await cap('member', t.memberId, 'minute', 1_000);
    const ok = await store.reserve(run(), principal(t), 300);
    expect(ok).toEqual({ ok: true, reservation: { reservedMicroUsd: 300, standing: { remainingMicroUsd: 700, resetsAt: '2026-04-01T00:00:00.000Z' } } });
  });

  it('reserves at the model’s price in one round trip, at the cost costMicroUsd computes; an unpriced model reserves nothing', async () => {
    const t = await createTenant();
    await cap('org', t.orgId, 'day', 10_000);
    const model = `priced-${newId('', 6)}`;
    const price = { inputMicroUsdPerMTok: 1_500_000, outputMicroUsdPerMTok: 2_333_333 };
    await withDb((db) => db.query('insert into model_prices (model, input_micro_usd_per_mtok, output_micro_usd_per_mtok) values ($1, $2, $3)', [model, price.inputMicroUsdPerMTok, price.outputMicroUsdPerMTok]));
    const tokens = { prompt: 1234, completion: 999 };
    const want = costMicroUsd(price, tokens.prompt, tokens.completion); // 1851 + 2331 = 4182 (rounded up)
    const wf = run();
    const priced = await store.reserveAtPrice(wf, principal(t), model, tokens);
    expect(priced).toEqual({ price, amount: want, outcome: { ok: true, reservation: { reservedMicroUsd: want, standing: expect.objectContaining({ remainingMicroUsd: 10_000 - want }) } } });
    // Idempotent per run, as `reserve` is; and refused as `reserve` is, with the same report.
    await store.reserveAtPrice(wf, principal(t), model, tokens);
    expect(await store.usage('org', t.orgId, 'day')).toMatchObject({ reservedMicroUsd: want });
    const refused = await store.reserveAtPrice(run(), principal(t), model, { prompt: 10_000_000, completion: 0 });
    expect(refused?.outcome).toEqual({ ok: false, refusal: { layer: 'org', window: 'day', resetsAt: new Date('2026-04-01T00:00:00Z'), fitsAfterReset: false } });
    expect(await store.reserveAtPrice(run(), principal(t), `unpriced-${newId('', 6)}`, tokens)).toBeNull();
    expect(await store.usage('org', t.orgId, 'day')).toMatchObject({ reservedMicroUsd: want });
    await store.settle(wf, 0);
    expect(await store.check()).toEqual([]);
  });

  it('settles the actual cost and releases the rest, exactly once however often it is retried', async () => {
    const t = await createTenant();
    await cap('org', t.orgId, 'day', 10_000);
    const wf = run();
    await store.reserve(wf, principal(t), 900);
    await store.reserve(wf, principal(t), 900); // a retried activity reserves nothing twice
    expect(await store.usage('org', t.orgId, 'day')).toMatchObject({ reservedMicroUsd: 900, spentMicroUsd: 0, limitMicroUsd: 10_000 });
    expect(await store.settle(wf, 250)).toEqual({ booked: true });
    expect(await store.settle(wf, 250)).toEqual({ booked: false });
    expect(await store.usage('org', t.orgId, 'day')).toMatchObject({ reservedMicroUsd: 0, spentMicroUsd: 250 });
    expect(await store.check()).toEqual([]);
  });

  it('starts every window at zero and settles a reservation against the window it was made in', async () => {
    const t = await createTenant();
    await cap('org', t.orgId, 'minute', 1000);
    await cap('org', t.orgId, 'month', 1_000_000);
    const before = run();
    expect((await store.reserve(before, principal(t), 800)).ok).toBe(true); // 23:59:30, March
    expect((await store.reserve(run(), principal(t), 800)).ok).toBe(false);
    clock = new Date('2026-04-01T00:00:00Z'); // new minute, new month
    expect(await store.usage('org', t.orgId, 'minute')).toMatchObject({ spentMicroUsd: 0, reservedMicroUsd: 0, resetsAt: '2026-04-01T00:01:00.000Z' });
    const after = run();
    expect((await store.reserve(after, principal(t), 800)).ok).toBe(true);
    await store.settle(before, 500); // books into March's windows, not April's
    const rows = await withDb((db) =>
      db.query(`select "window", window_start, spent_micro_usd::int as spent, reserved_micro_usd::int as reserved from cap_usage where subject_id = $1 order by window_start, "window"`, [t.orgId]),
    );
    expect(rows.rows.map((r) => [r.window, r.window_start.toISOString(), r.spent, r.reserved])).toEqual([
      ['month', '2026-03-01T00:00:00.000Z', 500, 0],
      ['minute', '2026-03-31T23:59:00.000Z', 500, 0],
      ['minute', '2026-04-01T00:00:00.000Z', 0, 800],
      ['month', '2026-04-01T00:00:00.000Z', 0, 800],
    ]);
  });

  it('under 200 concurrent reservations against one cap, exactly k succeed and the cap is never exceeded', async () => {
    const t = await createTenant();
    const k = 37;
    await cap('application', t.applicationId, 'day', k * 100);
    const results = await Promise.all(Array.from({ length: 200 }, () => store.reserve(run(), principal(t), 100)));
    expect(results.filter((r) => r.ok)).toHaveLength(k);
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.refusal.layer === 'application')).toBe(true);
    expect(await store.usage('application', t.applicationId, 'day')).toMatchObject({ reservedMicroUsd: k * 100 });
  });

  it('a held lock on one tenant’s cap does not block another tenant (no lock serializes unrelated tenants)', async () => {
    const a = await createTenant();
    const b = await createTenant();
    await cap('org', a.orgId, 'day', 10_000);
    await cap('org', b.orgId, 'day', 10_000);
    await store.reserve(run(), principal(a), 1); // creates a's counter row
    await withDb(async (db) => {
      await db.query('begin');
      await db.query(`select * from cap_usage where layer = 'org' and subject_id = $1 for update`, [a.orgId]);
      let aDone = false;
      const aPending = store.reserve(run(), principal(a), 1).then((r) => ((aDone = true), r));
      const bResult = await store.reserve(run(), principal(b), 1); // must not wait for a's lock
      expect(bResult.ok).toBe(true);
      expect(aDone).toBe(false); // a really is blocked on its own row
      await db.query('rollback');
      expect((await aPending).ok).toBe(true);
    });
  });
});
