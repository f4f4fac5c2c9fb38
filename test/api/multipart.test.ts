import type { AddressInfo } from 'node:net';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { readUpload } from '../../api/middleware/multipart.js';

// An upload past the limit is answered 413 at once, over real HTTP, whatever the rest of the body holds.
async function serve(maxBytes: number) {
  const app = express();
  let discarded = 0;
  app.post('/up', async (req, res) => {
    try {
      const up = await readUpload(
        req,
        maxBytes,
        async (content) => {
          let n = 0;
          for await (const chunk of content) n += chunk.length;
          return n;
        },
        async () => void discarded++,
      );
      res.json({ bytes: up.file, fields: up.fields });
    } catch (e) {
      const body = (e as { body?: { status: number; code: string | null } }).body;
      res.status(body?.status ?? 500).json({ code: body?.code ?? String(e) });
    }
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/up`, close: () => new Promise((r) => server.close(r)), discarded: () => discarded };
}

const form = (bytes: number) => {
  const f = new FormData();
  f.append('purpose', 'batch');
  f.append('file', new Blob([Buffer.alloc(bytes, 'a')]), 'big.jsonl');
  return f;
};

it('answers 413 file_too_large for a file past the limit instead of hanging', async () => {
  const s = await serve(64 * 1024);
  try {
    const res = await fetch(s.url, { method: 'POST', body: form(1024 * 1024), signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ code: 'file_too_large' });
  } finally {
    await s.close();
  }
});

it('reads a file within the limit to its end', async () => {
  const s = await serve(64 * 1024);
  try {
    const res = await fetch(s.url, { method: 'POST', body: form(10_000), signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ bytes: 10_000, fields: { purpose: 'batch' } });
  } finally {
    await s.close();
  }
});

// A form that fails — the caller gone at any point, a malformed body, the file's consumer failing — fails
// the file stream its consumer reads (an upload's transaction, in the API), and the upload settles.

interface Seen {
  /** How readUpload settled: 'resolved', or the message it rejected with. */
  outcome: Promise<string>;
  /** How the file's consumer ended ('read N bytes', 'threw …'); pending while it runs. */
  consumer: Promise<string> | null;
  discarded: boolean;
}

/** Runs `run` against an upload route whose steps the test controls; `seen` is what became of its (one) request. */
async function withUploadRoute(
  hooks: {
    beforeUpload?: (req: express.Request) => Promise<void>;
    /** Before the consumer reads its first byte (where the API opens the upload's transaction). */
    beforeRead?: (req: express.Request) => Promise<void>;
    /** Bytes after which the consumer fails (a database gone mid-upload). */
    failAfter?: number;
  },
  run: (route: { port: number; url: string; seen: Promise<Seen> }) => Promise<void>,
) {
  const app = express();
  let report: (s: Seen) => void = () => undefined;
  const seen = new Promise<Seen>((r) => (report = r));
  app.post('/up', async (req, res) => {
    let settled: (s: string) => void = () => undefined;
    const s: Seen = { outcome: new Promise((r) => (settled = r)), consumer: null, discarded: false };
    report(s);
    try {
      await hooks.beforeUpload?.(req);
      const up = await readUpload(
        req,
        1 << 30,
        (content) => {
          const consumer = (async () => {
            await hooks.beforeRead?.(req);
            let n = 0;
            for await (const chunk of content) {
              n += chunk.length;
              if (hooks.failAfter !== undefined && n > hooks.failAfter) throw new Error('the database went away');
            }
            return n;
          })();
          s.consumer = consumer.then((n) => `read ${n} bytes`, (e: Error) => `threw ${e.message}`);
          return consumer;
        },
        async () => void (s.discarded = true),
      );
      settled('resolved');
      res.json({ bytes: up.file });
    } catch (e) {
      settled((e as Error).message);
      const body = (e as { body?: { status: number } }).body;
      if (!res.destroyed) res.status(body?.status ?? 500).json({ message: (e as Error).message });
    }
  });
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  try {
    await run({ port, url: `http://127.0.0.1:${port}/up`, seen });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

const boundary = 'cut-boundary';
const partHead = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.jsonl"\r\ncontent-type: application/octet-stream\r\n\r\n`;
const fullForm = (fileBytes: number) => Buffer.concat([Buffer.from(partHead), Buffer.alloc(fileBytes, 'a'), Buffer.from(`\r\n--${boundary}\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--${boundary}--\r\n`)]);

/** A raw request announcing `announced` bytes of body and sending `body`; the socket is left open. */
async function send(port: number, body: Buffer, announced = body.length): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  socket.write(`POST /up HTTP/1.1\r\nhost: x\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${announced}\r\n\r\n`);
  socket.write(body);
  return socket;
}

const closed = (req: express.Request) => new Promise<void>((r) => (req.destroyed ? r() : req.once('close', () => r())));

it('a caller gone while the file’s consumer gets ready fails its read (the process goes on), and the upload is interrupted', async () => {
  let ready: () => void = () => undefined;
  const reached = new Promise<void>((r) => (ready = r));
  await withUploadRoute({ beforeRead: async (req) => (ready(), await closed(req)) }, async (s) => {
    const socket = await send(s.port, Buffer.concat([Buffer.from(partHead), Buffer.alloc(1000, 'a')]), 1 << 20);
    await reached;
    socket.destroy();
    const seen = await s.seen;
    expect(await seen.outcome).toBe('The upload was interrupted.');
    expect(await seen.consumer).toMatch(/^threw /);
  });
});

it('a caller gone before its upload is read (while it was authenticated) is settled at once', async () => {
  await withUploadRoute({ beforeUpload: closed }, async (s) => {
    (await send(s.port, Buffer.concat([Buffer.from(partHead), Buffer.alloc(1000, 'a')]), 1 << 20)).destroy();
    const seen = await s.seen;
    expect(await seen.outcome).toBe('The upload was interrupted.');
    expect(seen.consumer).toBeNull();
  });
});

it('a caller gone after sending its whole body, before the file was read, still settles the upload', async () => {
  await withUploadRoute({ beforeRead: closed }, async (s) => {
    (await send(s.port, fullForm(30_000))).destroy();
    const seen = await s.seen;
    // Either the form was read to its end before the close (a file made) or it was not (interrupted,
    // anything made discarded): never left waiting for the rest of a body the request no longer hands on.
    const outcome = await seen.outcome;
    expect(['resolved', 'The upload was interrupted.']).toContain(outcome);
    const consumer = await seen.consumer;
    if (outcome === 'resolved') expect(consumer).toBe('read 30000 bytes');
    else expect(consumer === null || seen.discarded || consumer.startsWith('threw ')).toBe(true);
  });
});

it('a malformed part before the file starts no file that nothing would end', async () => {
  await withUploadRoute({}, async (s) => {
    const body = `--${boundary}\r\nnot a header\r\n\r\nx\r\n${partHead}${'a'.repeat(1000)}`;
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body, signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(400);
    const seen = await s.seen;
    expect(await seen.outcome).toBe('Malformed multipart body: Malformed part header');
    // Busboy parses on to the end of the chunk after that error: a file it found there is never started.
    expect(seen.consumer).toBeNull();
  });
});

it('a consumer failing mid-file is answered with its error at once (not after the idle cut)', async () => {
  await withUploadRoute({ failAfter: 64 * 1024 }, async (s) => {
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body: fullForm(4 << 20), signal: AbortSignal.timeout(60_000) });
    expect(res.status).toBe(500);
    const seen = await s.seen;
    expect(await seen.outcome).toBe('the database went away');
  });
});
