import { toFile } from 'openai';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { jsonl, line, pollBatch, readLines, sdk, submitBatch } from '../support/batches.js';
import { temporalClient, withDb } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';

// Retention of the Batch API (issue 17): files expire as OpenAI's do (`expires_after` on upload; batch
// output and error files after 30 days, or the batch's `output_expires_after`), and an ended batch's
// per-line rows go a retention period after it ended. The deployment's retention sweeper runs every
// second here; "later" is made by moving the rows' times back in Postgres (the sweeper compares them
// with Postgres's clock).

const DAY = 86_400;
const ask = (i: number) => ({ model: 'retention-batch', seed: i, max_tokens: 4, messages: [{ role: 'user', content: `line ${i}` }] });
/** What Postgres holds of a file: its row, and its content's bytes (file_chunks). */
const stored = (id: string) =>
  withDb(async (db) => (await db.query('select (select count(*)::int from files where id = $1) as rows, (select coalesce(sum(octet_length(data)), 0)::int from file_chunks where file_id = $1) as bytes', [id])).rows[0]);
const lineRows = (batchId: string) => withDb(async (db) => (await db.query('select count(*)::int as n from batch_lines where batch_id = $1', [batchId])).rows[0].n as number);

describe('Batch API retention', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['retention-batch'] });
    genie = await startIsolatedGenie({ nodes: `retention:vllm=${node.url}`, env: { GENIE_RETENTION_SWEEP_INTERVAL_MS: '1000' } });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it('refuses an expires_after outside OpenAI’s bounds', async () => {
    const client = sdk(genie.apiUrl, (await createTenant()).apiKey);
    const file = async () => toFile(Buffer.from(jsonl([line('a', ask(1))])), 'in.jsonl');
    await expect(client.files.create({ file: await file(), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 60 } })).rejects.toMatchObject({ status: 400, param: 'expires_after[seconds]' });
    await expect(client.files.create({ file: await file(), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 31 * DAY } })).rejects.toMatchObject({ status: 400, param: 'expires_after[seconds]' });
    await expect(client.files.create({ file: await file(), purpose: 'batch', expires_after: { anchor: 'last_active_at' as never, seconds: 3600 } })).rejects.toMatchObject({ status: 400, param: 'expires_after[anchor]' });
  });

  it('an expired file is gone (404, its bytes deleted) while live ones stay; an ended batch loses its line rows, not itself nor its files', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const content = jsonl([line('r-1', ask(1)), line('r-2', ask(2))]);
    const expiring = await client.files.create({ file: await toFile(Buffer.from(content), 'expiring.jsonl'), purpose: 'batch', expires_after: { anchor: 'created_at', seconds: 3600 } });
    expect(expiring.expires_at).toBe(expiring.created_at + 3600);
    const kept = await client.files.create({ file: await toFile(Buffer.from(content), 'kept.jsonl'), purpose: 'batch' });
    expect(kept.expires_at).toBeNull();

    // Two batches: one whose end is moved a day back (its line rows are due), one that just ended.
    const old = await pollBatch(client, (await submitBatch(client, [line('o-1', ask(1)), line('o-2', ask(2))])).id);
    const young = await pollBatch(client, (await submitBatch(client, [line('y-1', ask(3))], { output_expires_after: { anchor: 'created_at', seconds: 7200 } })).id);
    expect([old.status, young.status]).toEqual(['completed', 'completed']);
    const oldOutput = await client.files.retrieve(old.output_file_id!);
    expect(oldOutput.expires_at).toBe(oldOutput.created_at + 30 * DAY); // OpenAI's default for batch output
    const youngOutput = await client.files.retrieve(young.output_file_id!);
    expect(youngOutput.expires_at).toBe(youngOutput.created_at + 7200);
    expect(await lineRows(old.id)).toBe(2);

    // An hour and a bit later for the expiring file; a day and a bit after the old batch ended
    // (GENIE_RETENTION_HOURS defaults to 24).
    await withDb(async (db) => {
      await db.query(`update files set created_at = created_at - interval '61 minutes', expires_at = expires_at - interval '61 minutes' where id = $1`, [expiring.id]);
      await db.query(`update batches set ended_at = ended_at - interval '25 hours' where id = $1`, [old.id]);
    });
    // Gone for the caller at once, before any sweep: every read checks the expiry.
    await expect(client.files.retrieve(expiring.id)).rejects.toMatchObject({ status: 404 });
    await expect(client.files.content(expiring.id)).rejects.toMatchObject({ status: 404 });
    const listed: string[] = [];
    for await (const f of client.files.list()) listed.push(f.id);
    expect(listed).not.toContain(expiring.id);
    expect(listed).toEqual(expect.arrayContaining([kept.id, old.output_file_id, young.output_file_id]));

    // The sweeper deletes the file's row and bytes, and the old batch's line rows.
    await waitFor('the expired file and the old batch’s lines to be deleted', async () => (await stored(expiring.id)).rows === 0 && (await lineRows(old.id)) === 0, 30_000, 250);
    expect(await stored(expiring.id)).toEqual({ rows: 0, bytes: 0 });
    await expect(client.batches.create({ input_file_id: expiring.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).rejects.toMatchObject({ status: 404 });

    // What is live stays: the file without expiry, both batches' output files, the young batch's lines,
    // and both batch objects (listable, their files still downloadable).
    expect(await stored(kept.id)).toEqual({ rows: 1, bytes: Buffer.byteLength(content) });
    expect(await (await client.files.content(kept.id)).text()).toBe(content);
    expect(await lineRows(young.id)).toBe(1);
    expect(await client.batches.retrieve(old.id)).toMatchObject({ status: 'completed', request_counts: { total: 2, completed: 2, failed: 0 } });
    expect((await readLines(client, old.output_file_id)).map((l) => l.custom_id)).toEqual(['o-1', 'o-2']);
    const batches: string[] = [];
    for await (const b of client.batches.list()) batches.push(b.id);
    expect(batches).toEqual([young.id, old.id]);
    const marked = await withDb(async (db) => (await db.query('select id, lines_deleted_at is not null as deleted from batches where id = any($1) order by id', [[old.id, young.id]])).rows);
    expect(marked).toEqual([
      { id: old.id, deleted: true },
      { id: young.id, deleted: false },
    ]);
  }, 120_000);
});
