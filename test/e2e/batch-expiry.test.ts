import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { line, pollBatch, readLines, sdk, submitBatch } from '../support/batches.js';
import { ledgerCheck } from '../support/budget-check.js';
import { temporalClient } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';

// The completion window (OpenAI's `expired`), shortened by GENIE_BATCH_COMPLETION_WINDOW_MS on a
// deployment of its own: a node whose short answers take a moment and whose long ones take minutes, and
// 10 lines per workflow run, so the deadline is carried across continue-as-new.

// Room for the 12 fast lines (2 at once) and a continue-as-new on a loaded 2-core machine.
const WINDOW_MS = 40_000;
const ITL_MS = 50;
// 2 tokens: done in well under a second. 3000 tokens at 50 ms: 150 s, ten windows.
const ask = (i: number, maxTokens: number) => ({ model: 'expiry-batch', seed: i, max_tokens: maxTokens, messages: [{ role: 'user', content: `line ${i}` }] });

describe('a batch whose completion window passes', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['expiry-batch'], interTokenLatency: ITL_MS, ignoreEos: true });
    genie = await startIsolatedGenie({ nodes: `expiry:vllm=${node.url}`, env: { GENIE_BATCH_CONCURRENCY: '2', GENIE_BATCH_LINES_PER_RUN: '10', GENIE_BATCH_COMPLETION_WINDOW_MS: String(WINDOW_MS) } });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it('ends expired at the deadline: finished lines kept, running ones cancelled, the rest never started, all unfinished in the error file as batch_expired', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const fast = Array.from({ length: 12 }, (_, i) => line(`fast-${i}`, ask(i, 2)));
    const slow = Array.from({ length: 6 }, (_, i) => line(`slow-${i}`, ask(10 + i, 3000)));
    const lines = [...fast, ...slow];
    const created = await submitBatch(client, lines);
    expect(created.expires_at! - created.created_at).toBeGreaterThanOrEqual(WINDOW_MS / 1000 - 1);
    expect(created.expires_at! - created.created_at).toBeLessThanOrEqual(WINDOW_MS / 1000 + 1);

    // Two slow lines run at the deadline, each 150 s from its end: an expired batch within 110 s of its
    // creation means they were cancelled, not waited for.
    const done = await pollBatch(client, created.id, undefined, 110_000);
    expect(done.status).toBe('expired');
    expect(done.expired_at).toEqual(expect.any(Number));
    expect(done.expired_at!).toBeGreaterThanOrEqual(done.expires_at!);
    expect(done.completed_at).toBeNull();
    expect(done.request_counts).toEqual({ total: 18, completed: 12, failed: 6 });

    const output = await readLines(client, done.output_file_id);
    const errors = await readLines(client, done.error_file_id);
    expect(output.map((l) => l.custom_id)).toEqual(fast.map((l) => l.custom_id));
    expect(output.every((l) => l.response?.status_code === 200 && l.error === null)).toBe(true);
    expect(errors).toEqual(
      slow.map((l) => ({
        id: expect.stringMatching(/^batch_req_/),
        custom_id: l.custom_id,
        response: null,
        error: { code: 'batch_expired', message: 'This request could not be executed before the completion window expired.' },
      })),
    );

    // No line started after the deadline: the fast ones and the two slow ones running then, all closed.
    const { client: temporal, close } = await temporalClient();
    try {
      const started = await waitFor('the batch line workflows, closed', async () => {
        const found: Array<{ id: string; startTime: Date; status: string }> = [];
        for await (const w of temporal.workflow.list({ query: `GenieBatchId = "${created.id}" AND WorkflowType = "batchLine"` })) found.push({ id: w.workflowId, startTime: w.startTime, status: w.status.name });
        return found.length >= 14 && found.every((w) => w.status !== 'RUNNING') ? found : null;
      }, 30_000, 300);
      expect(started).toHaveLength(14);
      for (const w of started) expect(w.startTime.getTime()).toBeLessThan((done.expires_at! + 1) * 1000);
      // The deadline crossed a continue-as-new: 10 lines per run, so the window passed in the second run.
      const runs: string[] = [];
      for await (const w of temporal.workflow.list({ query: `WorkflowId = "${created.id}"` })) runs.push(w.runId);
      expect(runs.length).toBeGreaterThanOrEqual(2);
    } finally {
      await close();
    }
    // The cancelled lines settled what they produced and released the rest.
    expect(ledgerCheck().ok).toBe(true);
  }, 180_000);
});
