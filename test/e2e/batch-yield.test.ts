import { startSimulator, type Simulator } from '../../simulator/server.js';
import { lineJobId } from '../../protocol/batch-ids.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { line, pollBatch, sdk, submitBatch } from '../support/batches.js';
import { withTemporal } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { sampleAll } from '../support/prometheus.js';

// Interactive first (README, Batch API): a batch line that finds sync or stream callers served on its
// fleet within the last 2 s waits GENIE_BATCH_YIELD_MS once before its completion. A deployment of its
// own, so no other test's traffic marks its fleet.

const YIELD_MS = 1500;
const ask = (i: number) => ({ model: 'yield-batch', max_tokens: 4, messages: [{ role: 'user', content: `line ${i}` }] });

/** The yield timers each line workflow of the batch started (their durations, ms). */
function lineTimers(batchId: string, lines: number): Promise<number[][]> {
  return withTemporal((client) =>
    Promise.all(
      Array.from({ length: lines }, async (_, i) => {
        const history = await client.workflow.getHandle(`chatcmpl-${lineJobId(batchId, i)}`).fetchHistory();
        return (history.events ?? []).flatMap((e) => {
          const t = e.timerStartedEventAttributes?.startToFireTimeout;
          return t ? [Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6)] : [];
        });
      }),
    ),
  );
}

/** genie_batch_line_waits_total for `reason`, summed over the deployment's workers (where lines load). */
const waits = (genie: IsolatedGenie, reason: string) =>
  sampleAll(genie.workers.map((w) => w.ready.metricsUrl as string), 'genie_batch_line_waits_total', { reason });

describe('batch lines yield to interactive traffic', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['yield-batch'] });
    genie = await startIsolatedGenie({ nodes: `yield:vllm=${node.url}`, env: { GENIE_BATCH_YIELD_MS: String(YIELD_MS), GENIE_BATCH_CONCURRENCY: '2' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it('runs every line at once while no sync or stream caller is being served', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const before = await waits(genie, 'interactive');
    const batch = await submitBatch(client, [0, 1, 2].map((i) => line(`quiet-${i}`, ask(i))));
    const done = await pollBatch(client, batch.id);
    expect(done.status).toBe('completed');
    expect(await lineTimers(batch.id, 3)).toEqual([[], [], []]);
    expect(await waits(genie, 'interactive')).toBe(before);
  });

  it('makes each line wait once while sync callers are being served, and still finishes the batch', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    // Sync callers kept busy on the fleet for the whole batch: every line load finds them.
    let batchEnded = false;
    const interactive = Promise.all(
      [0, 1].map(async (c) => {
        let served = 0;
        for (let i = 0; !batchEnded; i++) {
          await client.chat.completions.create({ ...ask(100 + i), messages: [{ role: 'user', content: `caller ${c} request ${i}` }] });
          served++;
        }
        return served;
      }),
    );
    const before = await waits(genie, 'interactive');
    const batch = await submitBatch(client, [0, 1, 2, 3].map((i) => line(`busy-${i}`, ask(i))));
    const done = await pollBatch(client, batch.id).finally(() => (batchEnded = true));
    const served = await interactive;
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
    expect(served.every((n) => n > 0)).toBe(true);
    // Once each at most (a line always moves), and on a machine slow enough to leave a 2 s gap between
    // two callers' requests a line may find none: most lines waited, each exactly the configured time.
    const timers = await lineTimers(batch.id, 4);
    expect(timers.every((t) => t.length <= 1 && t.every((ms) => ms === YIELD_MS))).toBe(true);
    expect(timers.filter((t) => t.length === 1).length).toBeGreaterThanOrEqual(3);
    // Ops see each wait: one count per line that waited.
    expect((await waits(genie, 'interactive')) - before).toBe(timers.filter((t) => t.length === 1).length);
  });
});
