import type OpenAI from 'openai';
import type { Batch } from 'openai/resources/batches';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { lineJobId } from '../../protocol/batch-ids.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { line, pollBatch, readLines, sdk, submitBatch } from '../support/batches.js';
import { ledgerCheck } from '../support/budget-check.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { withTemporal } from '../support/stack.js';
import { createTenant, putCap, putPrice } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';
import { sampleAll } from '../support/prometheus.js';

// Budgets in a batch (README, Batch API): a line refused by a cap waits for the cap's reset when the
// reset comes before the batch's deadline and would let it through; otherwise it fails with the 402 body.
// A deployment of its own with a 150 s completion window, and a model whose every line reserves and
// costs exactly 5 µUSD (prompts free, 1 µUSD per output token, 5 tokens always generated): a cap of 15
// admits exactly three lines per window.

const WINDOW_MS = 150_000;
const MODEL = 'budget-batch';
const LINE_COST = 5;
const ask = (i: number) => ({ model: MODEL, max_tokens: LINE_COST, messages: [{ role: 'user', content: `line ${i}` }] });

/** Waits out the end of a calendar window (UTC-aligned, as the caps' are) when fewer than `marginMs` of it are left. */
async function awayFromReset(windowMs: number, marginMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < marginMs) await new Promise((r) => setTimeout(r, left + 1000));
}

/** How many runs each line workflow of the batch had (a deferred line continues as new once per wait). */
function runsPerLine(batchId: string, lines: number): Promise<number[]> {
  return withTemporal(async (client) => {
    const runs = new Map<string, number>();
    for await (const w of client.workflow.list({ query: `GenieBatchId = "${batchId}" AND WorkflowType = "batchLine"` })) runs.set(w.workflowId, (runs.get(w.workflowId) ?? 0) + 1);
    return Array.from({ length: lines }, (_, i) => runs.get(`chatcmpl-${lineJobId(batchId, i)}`) ?? 0);
  });
}

const cap402 = (capWindow: string) => ({
  status_code: 402,
  body: { code: 'budget-cap-hit', capLayer: 'org', capWindow, resetsAt: expect.any(String), error: { type: 'insufficient_quota', code: 'budget-cap-hit' } },
});

describe('budget caps in a batch', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: [MODEL], ignoreEos: true });
    genie = await startIsolatedGenie({ nodes: `budgets:vllm=${node.url}`, env: { GENIE_BATCH_COMPLETION_WINDOW_MS: String(WINDOW_MS) } });
    await putPrice(MODEL, 0, 1_000_000);
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  async function tenantWithCap(window: string, limit: number): Promise<OpenAI> {
    const t = await createTenant();
    await putCap('org', t.orgId, window, limit);
    return sdk(genie.apiUrl, t.apiKey);
  }

  it('a cap that resets only after the deadline: three lines run, the rest go to the error file with the seed’s 402 body, the batch goes on', async () => {
    await awayFromReset(86_400_000, WINDOW_MS + 30_000); // the day cap must not reset within the window
    const client = await tenantWithCap('day', 3 * LINE_COST);
    const lines = Array.from({ length: 10 }, (_, i) => line(`day-${i}`, ask(i)));
    const done = await pollBatch(client, (await submitBatch(client, lines)).id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 10, completed: 3, failed: 7 });
    const errors = await readLines(client, done.error_file_id);
    expect(errors).toHaveLength(7);
    for (const e of errors) expect(e.response).toMatchObject(cap402('day'));
    expect(await readLines(client, done.output_file_id)).toHaveLength(3);
    // None waited: refused is final when the reset is past the deadline.
    expect(await runsPerLine(done.id, 10)).toEqual(Array(10).fill(1));
  }, 300_000);

  it('a cap smaller than one line: every line fails at once with its 402, none waits for a reset that cannot help', async () => {
    const client = await tenantWithCap('minute', LINE_COST - 2);
    const done = await pollBatch(client, (await submitBatch(client, [0, 1, 2].map((i) => line(`tiny-${i}`, ask(i))))).id);
    expect(done.request_counts).toEqual({ total: 3, completed: 0, failed: 3 });
    for (const e of await readLines(client, done.error_file_id)) expect(e.response).toMatchObject(cap402('minute'));
    expect(await runsPerLine(done.id, 3)).toEqual([1, 1, 1]);
  });

  it('lines refused by a cap that resets in time wait for the reset and run then; a cancel wakes waiting lines, which keep their 402', async () => {
    // Both batches' first lines in one minute, with time to cancel before it ends.
    await awayFromReset(60_000, 40_000);
    const resetWaits = () => sampleAll(genie.workers.map((w) => w.ready.metricsUrl as string), 'genie_batch_line_waits_total', { reason: 'budget_reset' });
    const resetWaitsBefore = await resetWaits();
    const deferringTenant = await createTenant();
    await putCap('org', deferringTenant.orgId, 'minute', 3 * LINE_COST);
    const deferringKey = deferringTenant.apiKey;
    const deferring = sdk(genie.apiUrl, deferringKey);
    const cancelling = await tenantWithCap('minute', 3 * LINE_COST);
    const [waits, cancels] = await Promise.all([
      submitBatch(deferring, [0, 1, 2, 3, 4].map((i) => line(`wait-${i}`, ask(i)))),
      submitBatch(cancelling, [0, 1, 2, 3, 4, 5].map((i) => line(`stop-${i}`, ask(10 + i)))),
    ]);
    // Three lines of each fit this minute; the others wait (the batch stays in progress, nothing failed).
    const three = (b: Batch) => b.request_counts?.completed === 3;
    const paused = await pollBatch(deferring, waits.id, three);
    expect(paused.status).toBe('in_progress');
    expect(paused.request_counts!.failed).toBe(0);
    // A waiting line's job reads queued, not the refusal its next run replaces: three completed, two
    // queued (waited for: the fifth line starts once a slot frees, and is refused a moment later).
    const jobStatuses = () =>
      Promise.all(
        [0, 1, 2, 3, 4].map(async (i) => {
          const res = await fetch(`${genie.apiUrl}/v1/jobs/${lineJobId(waits.id, i)}`, { headers: { authorization: `Bearer ${deferringKey}` } });
          return res.status === 200 ? ((await res.json()) as { status: string }).status : String(res.status);
        }),
      );
    const statuses = await waitFor('three lines completed and two queued', async () => {
      const s = (await jobStatuses()).sort();
      return s.join() === 'completed,completed,completed,queued,queued' ? s : null;
    }, 20_000, 250);
    expect(statuses).toHaveLength(5);
    await pollBatch(cancelling, cancels.id, three);
    await cancelling.batches.cancel(cancels.id);

    const cancelled = await pollBatch(cancelling, cancels.id);
    expect(cancelled.status).toBe('cancelled');
    // Woken by the cancel before the minute was over: had they waited, they would have run (200).
    expect(cancelled.request_counts!.completed).toBe(3);
    const stopped = (await readLines(cancelling, cancelled.error_file_id)).filter((e) => e.response !== null);
    expect(stopped.length).toBeGreaterThan(0);
    for (const e of stopped) expect(e.response).toMatchObject(cap402('minute'));

    const done = await pollBatch(deferring, waits.id, undefined, WINDOW_MS);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(await readLines(deferring, done.error_file_id)).toEqual([]);
    const output = await readLines(deferring, done.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual([0, 1, 2, 3, 4].map((i) => `wait-${i}`));
    // The two lines past the cap each waited once: a second run of the same workflow id, billed once.
    const runs = await runsPerLine(done.id, 5);
    expect(runs.filter((n) => n === 2)).toHaveLength(2);
    expect(runs.filter((n) => n === 1)).toHaveLength(3);
    // Ops count the runs that came after a wait for a reset: those two (the cancelled batch's lines
    // recorded their 402 instead of running again).
    expect((await resetWaits()) - resetWaitsBefore).toBe(2);
    expect(ledgerCheck().ok).toBe(true);
  }, 240_000);
  it('a line whose run begins after its batch was cancelled records its 402 at once, instead of waiting for a reset no signal will cut short', async () => {
    // The race it stands for: the cancel signals the running lines, and a line whose child start is still
    // in flight (or that is continuing as new) has no run to receive it. Here the line starts after the
    // batch has ended cancelled, as that line's start would land after the signal went out.
    await awayFromReset(60_000, 40_000);
    const client = await tenantWithCap('minute', 3 * LINE_COST);
    // Four lines at once (GENIE_BATCH_CONCURRENCY): three fit the cap, four wait for its reset, and
    // the eighth never starts before the cancel.
    const batch = await submitBatch(client, Array.from({ length: 8 }, (_, i) => line(`late-${i}`, ask(20 + i))));
    await pollBatch(client, batch.id, (b) => b.request_counts?.completed === 3);
    await waitFor('four lines deferred', async () => {
      const running = await withTemporal((t) => t.workflow.count(`GenieBatchId = "${batch.id}" AND WorkflowType = "batchLine" AND ExecutionStatus = "Running"`));
      return running.count === 4;
    }, 30_000, 250);
    await client.batches.cancel(batch.id);
    expect((await pollBatch(client, batch.id)).status).toBe('cancelled');

    const late = await withTemporal(async (t) => {
      // The eighth line started as the batch starts its lines: line 0's input, with the eighth's place.
      const first = (await t.workflow.getHandle(`chatcmpl-${lineJobId(batch.id, 0)}`).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!;
      const input = defaultPayloadConverter.fromPayload<Record<string, unknown>>(first.input!.payloads![0]!);
      const jobId = lineJobId(batch.id, 7);
      const handle = await t.workflow.start('batchLine', { workflowId: `chatcmpl-${jobId}`, taskQueue: first.taskQueue!.name!, args: [{ ...input, line: 7, jobId }] });
      const result = await handle.result();
      return { result, runs: (await t.workflow.count(`WorkflowId = "chatcmpl-${jobId}"`)).count };
    });
    // Refused by the spent cap, and recorded as refused: no wait for the reset (which would have let it
    // run and complete in a second run of the workflow).
    expect(late).toEqual({ result: { outcome: 'failed' }, runs: 1 });
    expect(ledgerCheck().ok).toBe(true);
  }, 180_000);
});
