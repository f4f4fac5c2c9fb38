import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { toFile } from 'openai';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { sdk } from '../support/batches.js';
import { transactionsOf } from '../support/stack.js';
import { createTenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';

// Files stream through the API (issue 17): an upload goes into Postgres a chunk at a time as it arrives
// and a download comes out the same way, so the API process never holds a file whole. Measured on the
// API process of a deployment of its own (its resident set, sampled every few milliseconds).

const MiB = 1024 * 1024;
/** The deployment's Postgres backends are told apart from the rest of the suite's by their application_name. */
const APP = `genie-file-streaming-${randomBytes(3).toString('hex')}`;
const SIZE = 96 * MiB;

const rss = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/** The highest resident set of `pid` while `run` runs, above what it was just before. */
async function rssGrowth<T>(pid: number, run: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = rss(pid);
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, rss(pid))), 5);
  try {
    const result = await run();
    return { result, growth: Math.max(peak, rss(pid)) - before };
  } finally {
    clearInterval(timer);
  }
}

describe('file uploads and downloads are streamed', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  const lines: string[] = [];
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['stream-files'] });
    genie = await startIsolatedGenie({ nodes: `files:vllm=${node.url}`, env: { PGAPPNAME: APP }, onLine: (_process, line) => lines.push(line) });
  });
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  it(`a ${SIZE / MiB} MiB file round-trips byte for byte while the API's memory grows by far less than the file`, async () => {
    const pid = genie.apis[0].child.pid!;
    const client = sdk(genie.apiUrl, (await createTenant()).apiKey);
    // Random bytes: nothing in the path can compress them away.
    const content = randomBytes(SIZE);
    const sha256 = createHash('sha256').update(content).digest('hex');
    // A warm-up round trip: code paths loaded, pools open, before anything is measured.
    const small = await client.files.create({ file: await toFile(Buffer.from('{"warm": "up"}\n'), 'warm.jsonl'), purpose: 'batch' });
    expect(await (await client.files.content(small.id)).text()).toBe('{"warm": "up"}\n');

    const file = await toFile(content, 'large.jsonl');
    const upload = await rssGrowth(pid, () => client.files.create({ file, purpose: 'batch' }));
    expect(upload.result).toMatchObject({ object: 'file', bytes: SIZE, purpose: 'batch' });

    // Read as a stream on this side too, hashed as it comes.
    const download = await rssGrowth(pid, async () => {
      const res = await fetch(`${genie.apiUrl}/v1/files/${upload.result.id}/content`, { headers: { authorization: `Bearer ${client.apiKey}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(SIZE));
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const piece of res.body!) {
        hash.update(piece);
        bytes += piece.length;
      }
      return { bytes, sha256: hash.digest('hex') };
    });
    expect(download.result).toEqual({ bytes: SIZE, sha256 });

    // Buffered, each would grow by at least the file's size (twice that while concatenated). Streamed in
    // 1 MiB chunks, what remains is the garbage the collector has not taken yet (each chunk's driver
    // buffers and, on the way out, its hex text): about 35 MiB for 96 MiB on the 2-core machine.
    const growth = { upload: Math.round(upload.growth / MiB), download: Math.round(download.growth / MiB) };
    console.log(`API RSS growth (MiB) for a ${SIZE / MiB} MiB file`, growth);
    expect(growth.upload).toBeLessThan((SIZE / MiB) * (2 / 3));
    expect(growth.download).toBeLessThan((SIZE / MiB) * (2 / 3));
  }, 180_000);

  it('an upload cut off mid-file leaves nothing: its transaction rolled back, no file', async () => {
    const t = await createTenant();
    const boundary = 'genie-cut-upload';
    const head = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cut.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`;
    const url = new URL(`${genie.apiUrl}/v1/files`);
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { authorization: `Bearer ${t.apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(64 * MiB) } });
    req.on('error', () => undefined);
    req.write(head);
    for (let i = 0; i < 8; i++) req.write(randomBytes(MiB)); // 8 MiB of the 64 announced: chunks are being stored
    // This deployment's backends only: another test's upload elsewhere on the shared Postgres is not this one.
    await waitFor('the upload to be storing chunks', async () => (await transactionsOf(APP, { staging: true })) > 0, 60_000, 100);
    req.destroy();
    // Cut at any point of an upload (test/e2e/upload-cut.test.ts), its transaction ends and its connection is back in the pool.
    await waitFor('the cut upload’s transaction to end', async () => (await transactionsOf(APP)) === 0, 60_000, 100);
    const client = sdk(genie.apiUrl, t.apiKey);
    const files = [];
    for await (const f of client.files.list()) files.push(f.id);
    expect(files).toEqual([]);
  });

  it('a file deleted while it is being downloaded cuts the download (the connection closes short of its length), never leaves it hanging', async () => {
    const t = await createTenant();
    const client = sdk(genie.apiUrl, t.apiKey);
    const size = 48 * MiB; // far more than the socket's buffers can take while the reader pauses
    const file = await client.files.create({ file: await toFile(randomBytes(size), 'deleted.jsonl'), purpose: 'batch' });
    const url = new URL(`${genie.apiUrl}/v1/files/${file.id}/content`);
    const outcome = await new Promise<{ bytes: number; ended: 'complete' | 'aborted' }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, headers: { authorization: `Bearer ${t.apiKey}` } }, (res) => {
        expect(res.headers['content-length']).toBe(String(size));
        let bytes = 0;
        let deleting: Promise<unknown> | null = null;
        res.on('data', (piece: Buffer) => {
          bytes += piece.length;
          if (deleting) return;
          // Paused after the first bytes: the rest of the file is still in Postgres when it is deleted.
          res.pause();
          deleting = client.files.delete(file.id).then(() => res.resume(), reject);
        });
        res.on('end', () => resolve({ bytes, ended: 'complete' }));
        res.on('aborted', () => resolve({ bytes, ended: 'aborted' }));
        res.on('error', () => resolve({ bytes, ended: 'aborted' }));
      });
      req.on('error', reject);
      req.end();
    });
    // Cut by the API because the file went away (logged with the reason), not by an idle keep-alive
    // timeout a minute later: before, the response ended quietly short of its length and the client waited.
    await waitFor('the API to log the cut download', async () => lines.some((l) => l.includes(`file ${file.id} was deleted while it was being read`)), 60_000, 100);
    expect(outcome.ended).toBe('aborted');
    expect(outcome.bytes).toBeLessThan(size);
  }, 120_000);
});
