import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { temporalClient, testStack, withDb } from '../support/stack.js';
import pg from 'pg';
import { searchAttributes } from '../../workflows/definitions.js';
import { windowStart } from '../../db/budget-windows.js';
import { createTenant, orgCapUsage, putCap, putPrice } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';
import { sample, scrape } from '../support/prometheus.js';

// Callers who leave before their answer's first byte: every completion is cancelled (its node request
// stopped, its usage settled), and the API process holds nothing for them afterwards. A keyed retry
// held in the same process never takes over (or drops) the original's hold.

describe('callers who leave early', () => {
  let slow: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    slow = await startSimulator({ port: 0, models: ['leave-model', 'leave-admission'], timeToFirstToken: 4000, maxNumSeqs: 512 });
    genie = await startIsolatedGenie({ nodes: `slow:vllm=${slow.url}` });
  });
  afterAll(async () => {
    await genie?.stop();
    await slow?.close();
  });

  const gauge = async (name: string) => {
    const text = await (await fetch(`${genie.apiUrl}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  };
  const heldCallers = () => gauge('genie_held_callers');

  it('200 departures before the first byte (sync and stream) leave no held caller and cancel every workflow', async () => {
    const tag = `leave ${Date.now()}`;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const controller = new AbortController();
        const call = fetch(`${genie.apiUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
          // Every other one a stream: its head waits for the node, which thinks for 4 s.
          body: JSON.stringify({ model: 'leave-model', max_tokens: 4, stream: i % 4 >= 2, metadata: { tag }, messages: [{ role: 'user', content: `${tag} ${i}` }] }),
          signal: controller.signal,
        });
        // Some leave while the workflow is being started, some while the node thinks (its first token is
        // 4 s away: 2.5 s leaves room for a loaded machine to have started their workflows).
        setTimeout(() => controller.abort(), [20, 600, 2500][i % 3]);
        await call.then(
          () => {
            throw new Error('answered before the caller left');
          },
          () => undefined,
        );
      }),
    );
    const end = Date.now() + 30_000;
    while ((await heldCallers()) !== 0) {
      if (Date.now() > end) throw new Error(`held callers stayed at ${await heldCallers()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { client, close } = await temporalClient();
    try {
      // A caller gone before its workflow started gets none; every other one ends cancelled, none
      // completed (visibility lags a little behind: poll until it agrees or time runs out).
      const list = async (query: string) => {
        const out: string[] = [];
        for await (const w of client.workflow.list({ query })) out.push(`${w.workflowId} ${w.status.name} ${String(w.typedSearchAttributes.get(searchAttributes.status))}`);
        return out;
      };
      let ids: string[] = [];
      let others: string[] = [];
      const until = Date.now() + 30_000;
      do {
        await new Promise((r) => setTimeout(r, 300));
        // Cancelled as the product counts it. Its Temporal status is Canceled when the API's cancel request
        // reached the workflow first (a caller who leaves after the start), else Failed with the same cause.
        ids = (await list(`GenieModel = "leave-model" AND GenieStatus = "cancelled"`)).map((x) => x.split(' ')[0]);
        others = await list(`GenieModel = "leave-model" AND GenieStatus != "cancelled"`);
      } while ((others.length > 0 || ids.length === 0) && Date.now() < until);
      expect(others).toEqual([]);
      const completed = await list(`GenieModel = "leave-model" AND ExecutionStatus = "Completed"`);
      expect(completed).toEqual([]);
      // Those that left while the node was thinking had a workflow to cancel (on a busy machine, fewer
      // of them got that far).
      expect(ids.length).toBeGreaterThan(0);
      const rows = await withDb((db) => db.query(`select outcome, count(*)::int as n from usage_records where workflow_id = any($1) group by outcome`, [ids]));
      expect(rows.rows).toEqual([{ outcome: 'cancelled', n: ids.length }]);
    } finally {
      await close();
    }
    expect(await heldCallers()).toBe(0);
    expect(await gauge('genie_sse_buffered_bytes')).toBe(0);
  }, 180_000);

  it('a caller who leaves while its reservation waits on a lock: the workflow ends cancelled, the node is never called, nothing stays reserved or is charged', async () => {
    // `serveHere` is cancellable and waited for (WAIT_CANCELLATION_COMPLETED): the cancel that lands
    // mid-admission must not leave the reservation it then books behind, nor let the generation start.
    const t = await createTenant();
    await putPrice('leave-admission', 1_000_000, 1_000_000); // 1 µUSD a token: the reservation is not 0
    await putCap('org', t.orgId, 'month', 1_000_000_000);
    const lock = new pg.Client({ connectionString: testStack().databaseUrl });
    await lock.connect();
    const { client, close } = await temporalClient();
    try {
      // The org's counter row, locked: admission's guarded UPDATE waits on it.
      await lock.query(`insert into cap_usage (layer, subject_id, "window", window_start) values ('org', $1, 'month', $2) on conflict do nothing`, [t.orgId, windowStart('month', new Date())]);
      await lock.query('begin');
      await lock.query(`select 1 from cap_usage where layer = 'org' and subject_id = $1 for update`, [t.orgId]);
      const lockPid = (await lock.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0].pid;
      const received = async () => sample(await scrape(slow.metricsUrl), 'genie_sim_requests_received_total', { model_name: 'leave-admission' });
      const receivedBefore = await received();
      const controller = new AbortController();
      const call = fetch(`${genie.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
        body: JSON.stringify({ model: 'leave-admission', max_tokens: 4, messages: [{ role: 'user', content: 'leave while I am admitted' }] }),
        signal: controller.signal,
      }).then(
        (res) => `answered ${res.status}`,
        () => 'left',
      );
      await waitFor('admission to wait on the locked counter', async () => (await withDb((db) => db.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [lockPid]))).rows[0].n > 0, 60_000, 50);
      const listed = async () => {
        for await (const w of client.workflow.list({ query: `GenieOrgId = "${t.orgId}"` })) return w.workflowId;
        return null;
      };
      const workflowId = await waitFor('the completion to be listed', listed, 60_000, 100);
      const handle = client.workflow.getHandle(workflowId);
      controller.abort();
      expect(await call).toBe('left');
      await waitFor('the cancel request to reach the workflow', async () => (await handle.fetchHistory()).events?.some((e) => e.workflowExecutionCancelRequestedEventAttributes) ?? false, 60_000, 100);
      await lock.query('rollback'); // admission goes on: it books its reservation, then meets the cancel
      await waitFor('the workflow to close', async () => (await handle.describe()).status.name !== 'RUNNING', 60_000, 100);
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      const ledger = await withDb((db) => db.query<{ step: string }>('select step from budget_ledger where workflow_id = $1 order by step', [workflowId]));
      expect(ledger.rows.map((r) => r.step)).toEqual(['reserve', 'settle']); // it did reserve, and it let go
      expect(await orgCapUsage(t.orgId)).toEqual([{ spent: 0, reserved: 0 }]);
      const records = await withDb((db) => db.query('select outcome, node, prompt_tokens, completion_tokens, cost_micro_usd::int as cost from usage_records where workflow_id = $1', [workflowId]));
      // Not a token charged: the node never saw the request.
      expect(records.rows).toEqual([expect.objectContaining({ outcome: 'cancelled', prompt_tokens: 0, completion_tokens: 0, cost: 0 })]);
      expect(await received()).toBe(receivedBefore);
    } finally {
      await lock.end().catch(() => undefined);
      await close();
    }
    expect(await heldCallers()).toBe(0);
  }, 180_000);

  it('a keyed retry on the same API while the original still runs: the sync one gets the same answer, the stream one a 409, and each original keeps its own', async () => {
    const send = (key: string, stream: boolean) =>
      fetch(`${genie.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}`, 'idempotency-key': key },
        body: JSON.stringify({ model: 'leave-model', max_tokens: 4, stream, messages: [{ role: 'user', content: 'once only' }] }),
      });
    const syncKey = `same-api-sync-${Date.now()}`;
    const streamKey = `same-api-stream-${Date.now()}`;
    const originals = [send(syncKey, false), send(streamKey, true)];
    await new Promise((r) => setTimeout(r, 500)); // both held here, their node still thinking
    const [syncDup, streamDup] = await Promise.all([send(syncKey, false), send(streamKey, true)]);
    const [syncOriginal, streamOriginal] = await Promise.all(originals);
    expect([syncOriginal.status, syncDup.status]).toEqual([200, 200]);
    const [ja, jb] = (await Promise.all([syncOriginal.json(), syncDup.json()])) as Array<{ id: string; choices: Array<{ message: { content: string } }> }>;
    expect(jb.id).toBe(ja.id);
    expect(jb.choices[0].message.content).toBe(ja.choices[0].message.content);
    expect(streamDup.status).toBe(409);
    expect(((await streamDup.json()) as { error: { code: string } }).error.code).toBe('idempotency_key_in_use');
    expect(streamOriginal.status).toBe(200);
    const text = await streamOriginal.text();
    expect(text).toContain('"finish_reason":"length"');
    expect(text).not.toContain('[error]');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await heldCallers()).toBe(0);
  }, 60_000);
});
