import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createParser } from 'eventsource-parser';
import express from 'express';
import pino from 'pino';
import { errorMapper } from '../../api/middleware/error-mapper.js';
import { SseSink } from '../../api/completion/sse-sink.js';

// An error thrown after part of an answer is out must not look like a whole answer: a stream ends with
// the inline `[error]` chunk and finish_reason "error" (the seed's rule), anything else is cut short.
// Real express and HTTP; the routes stand in for a handler that fails after writing its head.

let server: http.Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.get('/stream', async (_req, res) => {
    const sink = new SseSink(res, { id: 'chatcmpl-x', model: 'm', created: 1 }, 60_000);
    res.locals.sseSink = sink;
    sink.open(null);
    sink.writeDelta({ content: 'partial' }, null);
    await new Promise((r) => setImmediate(r));
    throw new Error('the replay broke');
  });
  app.get('/body', async (_req, res) => {
    res.status(200).type('application/json').write('{"id":"chatcmpl-x","choi');
    await new Promise((r) => setImmediate(r));
    throw new Error('the body broke');
  });
  app.use(errorMapper(pino({ level: 'silent' })));
  server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

test('a stream that fails after its head ends with the inline error chunk, then [DONE]', async () => {
  const res = await fetch(`${base}/stream`);
  expect(res.status).toBe(200);
  const events: string[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e.data) });
  parser.feed(await res.text());
  expect(events.at(-1)).toBe('[DONE]');
  const last = JSON.parse(events.at(-2)!) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> };
  expect(last.choices[0].finish_reason).toBe('error');
  expect(last.choices[0].delta.content).toMatch(/^\[error\] 500 /);
  expect(events.map((e) => (e === '[DONE]' ? e : JSON.parse(e).choices[0].delta.content))).toEqual(['', 'partial', last.choices[0].delta.content, '[DONE]']);
});

test('any other answer that fails after its head is cut short, never ended as if whole', async () => {
  const outcome = await new Promise<string>((resolve) => {
    http.get(`${base}/body`, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`ended cleanly: ${body}`));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
    });
  });
  expect(outcome).toBe('cut');
});
