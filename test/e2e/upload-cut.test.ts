import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import net from 'node:net';
import { DEFAULT_POOL_MAX } from '../../db/orm.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { sdk } from '../support/batches.js';
import { transactionsOf } from '../support/stack.js';
import { createTenant, type Tenant } from '../support/tenants.js';
import { waitFor } from '../support/wait-for.js';

// An upload's chunks go into Postgres in one transaction on a pooled connection of the API (db/file-store.ts).
// A form that ends without a complete file must leave no transaction open and its connection back in the
// pool, wherever its caller cut it — in the file part's headers, mid-chunk, on a chunk boundary, before the
// file's closing boundary or before the form's, after sending it all — with a FIN or a RST, megabytes still
// in flight or none; and when it fails on its own (a malformed part). The deployment's backends are told
// apart from the rest of the suite's by their application_name.

const MiB = 1024 * 1024;
/** Rounds of every cut (GENIE_UPLOAD_CUT_ROUNDS): a few in the suite, more to hunt a race. */
const ROUNDS = Number(process.env.GENIE_UPLOAD_CUT_ROUNDS ?? 2);
/** The API's pool (openOrm's default): this many connections, no more. */
const POOL_MAX = DEFAULT_POOL_MAX;
const APP = `genie-upload-cut-${randomBytes(3).toString('hex')}`;
const boundary = 'genie-cut-upload';
const partHead = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cut.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`;
const formTail = `\r\n--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}--\r\n`;

/**
 * A form whose file is `fileBytes` of random bytes with no CR in them. A CR could start the delimiter
 * (`\r\n--boundary`), so busboy holds back a trailing one until it sees what follows: a cut "right
 * after a chunk boundary" whose last byte sent was a CR (1 in 256) left the file a byte short of its
 * first full chunk, nothing was stored, and the test waited for staging in vain.
 */
const form = (fileBytes: number) => Buffer.concat([Buffer.from(partHead), randomBytes(fileBytes).map((b) => (b === 0x0d ? 0x0e : b)), Buffer.from(formTail)]);

interface Cut {
  name: string;
  /** The whole body the request announces (Content-Length). */
  body: Buffer;
  /** How much of it is sent before the cut. */
  sent: number;
  /** Whether chunks are being stored by then (waited for before cutting). */
  staging: boolean;
  /** The whole body is sent: read to its end before its caller left, it is a file (else nothing is). */
  mayMakeFile?: true;
}

const cuts = (): Cut[] => {
  const file = form(2 * MiB + 4321);
  const fileEnd = partHead.length + 2 * MiB + 4321;
  const big = form(64 * MiB);
  const malformed = Buffer.concat([Buffer.from(`--${boundary}\r\nnot a header\r\n\r\nx\r\n`), file]);
  return [
    { name: 'in the file part’s headers', body: file, sent: 40, staging: false },
    { name: 'mid-chunk', body: file, sent: partHead.length + MiB + MiB / 2, staging: true },
    { name: 'right after a chunk boundary', body: file, sent: partHead.length + MiB, staging: true },
    { name: 'right before the file’s closing boundary', body: file, sent: fileEnd, staging: true },
    { name: 'right before the form’s closing boundary', body: file, sent: file.length - `--${boundary}--\r\n`.length, staging: true },
    { name: 'with 8 MiB of 64 in flight', body: big, sent: partHead.length + 8 * MiB, staging: true },
    { name: 'at once, 1 MiB sent', body: file, sent: partHead.length + MiB, staging: false },
    { name: 'at once, the whole body sent', body: file, sent: file.length, staging: false, mayMakeFile: true },
    // Not cut by the caller: the form fails on a malformed part, and busboy parses on to the end of its
    // chunk, where a file part starts.
    { name: 'after a malformed part before the file', body: malformed, sent: malformed.length, staging: false },
  ];
};

/** Sends the request and `sent` bytes of its body on a socket of its own; resolves with the socket, still open. */
async function startUpload(genie: IsolatedGenie, t: Tenant, cut: Cut): Promise<net.Socket> {
  const url = new URL(genie.apiUrl);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `POST /v1/files HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: Bearer ${t.apiKey}\r\n` +
      `content-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${cut.body.length}\r\n\r\n`,
  );
  socket.write(cut.body.subarray(0, cut.sent));
  return socket;
}

describe('an upload cut off by its caller rolls back and gives its connection back', () => {
  let node: Simulator;
  let genie: IsolatedGenie;
  const filesOf = async (t: Tenant) => {
    const names = [];
    for await (const f of sdk(genie.apiUrl, t.apiKey).files.list()) names.push(f.filename);
    return names;
  };
  beforeAll(async () => {
    node = await startSimulator({ port: 0, models: ['upload-cut'] });
    genie = await startIsolatedGenie({ nodes: `cut:vllm=${node.url}`, env: { PGAPPNAME: APP } });
  }, 180_000);
  afterAll(async () => {
    await genie?.stop();
    await node?.close();
  });

  for (const how of ['FIN', 'RST'] as const) {
    it.each(cuts().map((c) => [c.name, c] as const))(`cut %s (${how}), ${ROUNDS} times: no transaction left open`, async (_name, cut) => {
      const tenant = await createTenant();
      for (let round = 0; round < ROUNDS; round++) {
        const socket = await startUpload(genie, tenant, cut);
        if (cut.staging) await waitFor('the upload to be storing chunks', async () => (await transactionsOf(APP, { staging: true })) > 0, 60_000, 50);
        if (how === 'RST') socket.resetAndDestroy();
        else socket.destroy();
        await waitFor(`the cut upload’s transaction to end (round ${round})`, async () => (await transactionsOf(APP)) === 0, 60_000, 100);
      }
      if (!cut.mayMakeFile) expect(await filesOf(tenant)).toEqual([]);
    }, 60_000 + ROUNDS * 130_000);
  }

  it(`the pool has every connection back: ${POOL_MAX} uploads stage at once, then all complete`, async () => {
    const tenant = await createTenant();
    const full = cuts()[1];
    const url = new URL(`${genie.apiUrl}/v1/files`);
    const uploads = Array.from({ length: POOL_MAX }, () => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false, headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(full.body.length) } });
      const status = new Promise<number | string>((resolve) => {
        req.on('response', (res) => resolve(res.resume().statusCode!));
        req.on('error', (e) => resolve(e.message));
      });
      req.write(full.body.subarray(0, full.sent));
      return { req, status };
    });
    try {
      // Each holds a connection: one lost to a cut upload and the last of them would wait for it forever.
      await waitFor(`${POOL_MAX} uploads to be storing chunks at once`, async () => (await transactionsOf(APP, { staging: true })) === POOL_MAX, 90_000, 100);
      for (const u of uploads) u.req.end(full.body.subarray(full.sent));
      expect(await Promise.all(uploads.map((u) => u.status))).toEqual(Array(POOL_MAX).fill(200));
    } finally {
      for (const u of uploads) u.req.destroy();
    }
    await waitFor('the uploads’ transactions to end', async () => (await transactionsOf(APP)) === 0, 60_000, 100);
    expect(await filesOf(tenant)).toEqual(Array(POOL_MAX).fill('cut.jsonl'));
  }, 240_000);
});
