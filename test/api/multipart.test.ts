import type { AddressInfo } from 'node:net';
import http from 'node:http';
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
