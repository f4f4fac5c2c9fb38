import os from 'node:os';
import proto from '@temporalio/proto';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob } from '../support/jobs.js';
import { testStack, withDb, withTemporal } from '../support/stack.js';
import { ledgerCheck } from '../support/budget-check.js';
import { createTenant, orgCapUsage, putCap, type Tenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';

// A 202 says the job will complete. When a later attempt of an async job finds no healthy node — its
// worker was lost, or its node failed — while a node that may come back (down, draining) serves the
// model, the job waits for one on durable timers (GENIE_ASYNC_NODE_WAIT_MS over the job), then fails
// honestly with the last node's error. Real simulators, processes, Postgres and Temporal.

const MODEL = 'node-wait-model';
// Room for a restarted node to be probed healthy again on a loaded machine: its one-token probe takes
// its 4 s first token, plus the probe interval and the registry's refresh.
const WAIT_MS = 30_000;
const messages = [{ role: 'user', content: 'Wait for a node.' }];
type History = proto.temporal.api.history.v1.IHistoryEvent[];
const durationMs = (d: proto.google.protobuf.IDuration | null | undefined) => Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6);
const timersOf = (events: History) => events.filter((e) => e.timerStartedEventAttributes).map((e) => durationMs(e.timerStartedEventAttributes!.startToFireTimeout));

describe('async jobs wait for a node that may come back', () => {
  let a: Simulator;
  let b: Simulator;
  let aPort: number;
  let genie: IsolatedGenie;
  // The first token 4 s away: time to kill a worker or the node while the request is in flight.
  const startA = (port = 0) => startSimulator({ port, models: [MODEL], timeToFirstToken: 4000 });
  const admin = (method: string, path: string, body?: unknown) => api(`/admin/v1${path}`, { base: genie.apiUrl, method, key: testStack().adminToken, body });
  const nodeNamed = async (name: string) => ((await admin('GET', '/nodes')).json.data as Array<{ id: string; name: string; healthy: boolean; state: string }>).find((n) => n.name === name)!;

  beforeAll(async () => {
    a = await startA();
    aPort = a.port;
    b = await startSimulator({ port: 0, models: [MODEL] });
    genie = await startIsolatedGenie({ nodes: `a:vllm=${a.url},b:vllm=${b.url}`, env: { GENIE_ASYNC_NODE_WAIT_MS: String(WAIT_MS), GENIE_PROBE_TIMEOUT_MS: '15000' } });
    // 1 µUSD per token either way, so every booked amount is a token count.
    await api(`/admin/v1/prices/${MODEL}`, { method: 'PUT', key: testStack().adminToken, body: { inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 1_000_000 } });
    // Only `a` takes new work: `b` is drained (it serves the model, and may come back).
    expect((await admin('PATCH', `/nodes/${(await nodeNamed('b')).id}`, { state: 'draining' })).json.state).toBe('draining');
  }, 180_000);
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([a?.close(), b?.close()]);
  });

  const submit = async (t: Tenant) => {
    const accepted = await api('/v1/chat/completions', { base: genie.apiUrl, key: t.apiKey, body: { model: MODEL, mode: 'async', messages } });
    expect(accepted.status).toBe(202);
    return accepted.json as { id: string; poll_url: string };
  };
  const tenant = async () => {
    const t = await createTenant();
    await putCap('org', t.orgId, 'day', 1_000_000_000);
    return t;
  };
  /** The job's `generate` started on the given worker, its request at the node (first token still 4 s away). */
  const generatingOn = (id: string, pid: number) =>
    withTemporal((client) =>
      waitFor('the worker to run generate', async () =>
        ((await client.workflow.getHandle(id).describe()).raw.pendingActivities ?? []).some(
          (p) => p.activityType?.name === 'generate' && p.state === proto.temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED && p.lastWorkerIdentity === `${pid}@${os.hostname()}`,
        ),
      30_000, 25),
    );
  const historyOf = (id: string, closed: boolean): Promise<History> =>
    withTemporal(async (client) => {
      const handle = client.workflow.getHandle(id);
      if (closed) await handle.result().catch(() => undefined);
      return (await handle.fetchHistory()).events!;
    });
  const settledOnce = async (t: Tenant, id: string, outcome: string, spent: number) => {
    const rows = await withDb((db) => db.query('select outcome from usage_records where workflow_id = $1', [id]));
    expect(rows.rows).toEqual([{ outcome }]);
    expect((await orgCapUsage(t.orgId))[0]).toEqual({ spent, reserved: 0 });
    expect(ledgerCheck().ok).toBe(true);
  };

  it('its worker killed while its only node was down: the job waits in_progress, then completes on the node once it is back', async () => {
    const t = await tenant();
    const job = await submit(t);
    const killed = genie.workers[0].child.pid!;
    await generatingOn(job.id, killed);
    // The worker dies with the request; the node goes down before its replacement probes it. The lost
    // attempt times out (heartbeat), and the retry finds `a` down and `b` drained.
    await genie.restartWorker('SIGKILL', () => a.close());
    await waitFor('the job to wait for a node', async () => timersOf(await historyOf(job.id, false)).length > 0, 60_000);
    expect((await pollJob(job.poll_url, () => true, { base: genie.apiUrl, key: t.apiKey })).status).toBe('in_progress');
    expect(await nodeNamed('a')).toMatchObject({ healthy: false });
    a = await startA(aPort);
    const done = await pollJob(job.poll_url, undefined, { base: genie.apiUrl, key: t.apiKey, timeoutMs: 60_000 });
    // With its error, if it failed: that says which wait ran out.
    expect({ status: done.status, error: done.error ?? null }).toEqual({ status: 'completed', error: null });
    const events = await historyOf(job.id, true);
    const timers = timersOf(events);
    expect(timers[0]).toBe(1000); // the first pause; each later one doubles
    expect(timers.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(WAIT_MS);
    // Two attempts on `a`: the one the kill lost, and the one after the wait on the new worker.
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generate');
    expect(scheduled).toHaveLength(2);
    expect(scheduled.map((e) => JSON.parse(Buffer.from(e.activityTaskScheduledEventAttributes!.input!.payloads![0].data!).toString()).node.name)).toEqual(['a', 'a']);
    await settledOnce(t, job.id, 'completed', done.result!.usage.total_tokens);
  }, 150_000);

  it('its node failed and none came back in GENIE_ASYNC_NODE_WAIT_MS: the job fails with the node’s error, its reservation released', async () => {
    await waitFor('node a to be healthy again', async () => (await nodeNamed('a')).healthy, 60_000);
    const t = await tenant();
    const job = await submit(t);
    await generatingOn(job.id, genie.workers[0].child.pid!);
    // The node drops the request before its first token: `a` is failed over from, `b` is still drained.
    await a.close();
    const failed = await pollJob(job.poll_url, undefined, { base: genie.apiUrl, key: t.apiKey, timeoutMs: WAIT_MS + 60_000 });
    expect(failed).toMatchObject({ status: 'failed', error: { status: 503 } });
    // It waited the whole bound on durable timers (1, 2, 4, 8 s, then what was left), asking again after each.
    const events = await historyOf(job.id, true);
    expect(timersOf(events)).toEqual([1000, 2000, 4000, 8000, 15000]);
    await settledOnce(t, job.id, 'failed', 0);
  }, 150_000);
});
