import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { line, pollBatch, readLines, sdk, submitBatch } from '../support/batches.js';
import { ledgerCheck } from '../support/budget-check.js';
import { temporalClient, withDb } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';
import { batchKey } from '../../protocol/batch-ids.js';

// Batches on deployments of their own: a slow node to cancel and kill under, a fast one for size.

const ask = (model: string, i: number) => ({ model, seed: i, max_tokens: 4, messages: [{ role: 'user', content: `line ${i}` }] });

/** Every line workflow of a batch as Temporal's visibility lists it (eventually consistent: waits for `n`). */
async function lineWorkflows(batchId: string, atLeast: number) {
  const { client, close } = await temporalClient();
  try {
    return await waitFor(`${atLeast} line workflows of ${batchId}`, async () => {
      const found: Array<{ id: string; startTime: Date; status: string }> = [];
      for await (const w of client.workflow.list({ query: `GenieBatchId = "${batchId}" AND WorkflowType = "batchLine"` })) found.push({ id: w.workflowId, startTime: w.startTime, status: w.status.name });
      return found.length >= atLeast && found.every((w) => w.status !== 'RUNNING') ? found : null;
    }, 30_000, 300);
  } finally {
    await close();
  }
}

/** Usage rows per line workflow: exactly one each means every line was settled exactly once. */
async function settlements(batchId: string) {
  const rows = await withDb((db) => db.query(`select workflow_id, count(*)::int as n from usage_records where workflow_id like $1 group by workflow_id`, [`chatcmpl-${batchKey(batchId)}x%`]));
  return rows.rows as Array<{ workflow_id: string; n: number }>;
}

describe('batches on a slow node', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['slow-batch'], timeToFirstToken: 600 });
    genie = await startIsolatedGenie({ nodes: `slow:vllm=${node.url}`, env: { GENIE_BATCH_CONCURRENCY: '3' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it('cancel mid-batch: cancelled, finished lines kept in the output file, no line started after the cancel', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const lines = Array.from({ length: 15 }, (_, i) => line(`c-${i}`, ask('slow-batch', i)));
    const batch = await submitBatch(client, lines);
    await pollBatch(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 2);
    const cancelled = await client.batches.cancel(batch.id);
    const cancelAnsweredAt = Date.now();
    expect(['cancelling', 'cancelled']).toContain(cancelled.status);
    expect(cancelled.cancelling_at).toEqual(expect.any(Number));
    const done = await pollBatch(client, batch.id);
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).toEqual(expect.any(Number));
    // Idempotent: a second cancel answers the batch as it is.
    expect((await client.batches.cancel(batch.id)).status).toBe('cancelled');

    const output = await readLines(client, done.output_file_id);
    const errors = await readLines(client, done.error_file_id);
    expect(output.length).toBeGreaterThanOrEqual(2);
    expect(output.length).toBe(done.request_counts!.completed);
    expect(output.every((l) => l.response?.status_code === 200)).toBe(true);
    const unstarted = errors.filter((e) => e.error?.code === 'batch_cancelled');
    expect(unstarted.length).toBeGreaterThan(0);
    expect(unstarted.every((e) => e.response === null)).toBe(true);
    expect([...output, ...errors].map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    // Every line workflow started before the cancel was answered, and each one is in the output (or error) file.
    // Waits for every started line to be listed (visibility lags): a line in the error file with its
    // answer started too, not only those in the output file.
    const started = await lineWorkflows(batch.id, 15 - unstarted.length);
    expect(started.length).toBe(15 - unstarted.length);
    for (const w of started) expect(w.startTime.getTime()).toBeLessThanOrEqual(cancelAnsweredAt);
  });

  it('a worker killed mid-batch (SIGKILL): every line completes, each settled exactly once', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const lines = Array.from({ length: 24 }, (_, i) => line(`k-${i}`, ask('slow-batch', i)));
    const batch = await submitBatch(client, lines);
    await pollBatch(client, batch.id, (b) => (b.request_counts?.completed ?? 0) >= 3);
    await genie.restartWorker('SIGKILL');
    const done = await pollBatch(client, batch.id, undefined, 240_000);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 24, completed: 24, failed: 0 });
    const output = await readLines(client, done.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(lines.map((l) => l.custom_id));
    expect(new Set(output.map((l) => l.response!.request_id)).size).toBe(24);
    const settled = await settlements(batch.id);
    expect(settled).toHaveLength(24);
    expect(settled.every((s) => s.n === 1)).toBe(true);
    expect(ledgerCheck().ok).toBe(true);
  }, 300_000);
});

describe('a large batch', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  const LINES = 2000;
  const PER_RUN = 250;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['fast-batch'], maxNumSeqs: 256 });
    genie = await startIsolatedGenie({
      nodes: `fast:vllm=${node.url}`,
      env: { GENIE_BATCH_CONCURRENCY: '48', GENIE_BATCH_ORG_CONCURRENCY: '48', GENIE_BATCH_LINES_PER_RUN: String(PER_RUN) },
    });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it(`${LINES} lines finish, every custom_id once, with every run's history bounded (continue-as-new)`, async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const lines = Array.from({ length: LINES }, (_, i) => line(`big-${i}`, ask('fast-batch', i)));
    const batch = await submitBatch(client, lines);
    const done = await pollBatch(client, batch.id, undefined, 900_000);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
    const output = await readLines(client, done.output_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(lines.map((l) => l.custom_id));

    const { client: temporal, close } = await temporalClient();
    try {
      const runs: string[] = [];
      for await (const w of temporal.workflow.list({ query: `WorkflowId = "${batch.id}"` })) runs.push(w.runId);
      expect(runs.length).toBeGreaterThanOrEqual(LINES / PER_RUN);
      for (const runId of runs) {
        const events = (await temporal.workflow.getHandle(batch.id, runId).fetchHistory()).events ?? [];
        // Each child costs ~3 events plus its share of workflow tasks; far below Temporal's 10k warning.
        expect(events.length).toBeLessThan(3000);
      }
    } finally {
      await close();
    }
  }, 960_000);
});
