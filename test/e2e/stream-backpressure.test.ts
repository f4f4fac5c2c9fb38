import http from 'node:http';
import { createParser } from 'eventsource-parser';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { generateTokens } from '../../simulator/text.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { testStack } from '../support/stack.js';

// A caller who stops reading while a fast node streams a large completion (8000 tokens of 4 KB, ~33 MB
// of SSE): Genie must stop reading the node instead of buffering the rest, and the caller, reading
// again, must get every token in order. Two causal signals, no RSS: the API's own count of SSE bytes
// its sockets have not taken (genie_sse_buffered_bytes), and how many tokens the simulator managed to
// write (it honours back-pressure as a real engine's server does, so it stops when Genie stops reading).

const TOKENS = 8000;
const TOKEN_BYTES = 4096;
const STALL_MS = 1000;
const messages = [{ role: 'user' as const, content: 'Write it all out.' }];

/** A metric's value; one that is not exposed at all is an error, unless `absent` says what it means. */
async function gauge(url: string, name: string, absent?: number): Promise<number> {
  const text = await (await fetch(url)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line) return Number(line.split(' ').at(-1));
  if (absent === undefined) throw new Error(`${url} has no ${name}`);
  return absent;
}

describe('a slow SSE reader', () => {
  let fast: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    fast = await startSimulator({ port: 0, models: ['bp-model'], ignoreEos: true, tokenBytes: TOKEN_BYTES });
    // A short stall timeout: the caller's pause below outlasts it, and must not be taken for the node's stall.
    genie = await startIsolatedGenie({ nodes: `fast:vllm=${fast.url}`, env: { GENIE_NODE_STALL_TIMEOUT_MS: String(STALL_MS) } });
  });
  afterAll(async () => {
    await genie?.stop();
    await fast?.close();
  });

  it('pauses the node instead of buffering the completion, then delivers every token in order', async () => {
    const body = JSON.stringify({ model: 'bp-model', messages, stream: true, max_tokens: TOKENS });
    // node:http with its response paused: past its small buffer the client stops reading the socket,
    // so the kernel's buffers fill and Genie's writes to it stop being taken.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${genie.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${testStack().apiKey}` },
      });
      req.on('response', (r) => {
        r.pause();
        resolve(r);
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(res.statusCode).toBe(200);

    // Wait until the simulator's count of tokens written stops moving (for longer than the stall timeout).
    const sent = () => gauge(fast.metricsUrl, 'genie_sim_tokens_sent_total', 0);
    let last = -1;
    for (let still = 0; still < 15; ) {
      const now = await sent();
      still = now === last && now > 0 ? still + 1 : 0;
      last = now;
      await new Promise((r) => setTimeout(r, 100));
    }
    // The node was stopped well before the end: only the kernel's socket buffers hold what it sent ahead.
    expect(last).toBeLessThan(TOKENS * 0.75);
    // And Genie holds at most about one socket buffer's worth (16 KB high-water mark + one chunk), not the rest.
    const buffered = await gauge(`${genie.apiUrl}/metrics`, 'genie_sse_buffered_bytes');
    expect(buffered).toBeGreaterThan(0);
    expect(buffered).toBeLessThan(64 * 1024);

    // Reading again: the whole completion, in order, then [DONE].
    const events: string[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e.data) });
    const decoder = new TextDecoder();
    for await (const chunk of res) parser.feed(decoder.decode(chunk as Buffer, { stream: true }));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((d) => JSON.parse(d) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).not.toContain('[error]');
    const expected = generateTokens(0, messages, TOKENS, { ignoreEos: true, tokenBytes: TOKEN_BYTES }).tokens;
    expect(text.length).toBe(TOKENS * TOKEN_BYTES);
    expect(text === expected.join('')).toBe(true); // (not toBe: a 33 MB diff is no help)
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
    expect(await gauge(fast.metricsUrl, 'genie_sim_tokens_sent_total')).toBe(TOKENS);
    expect(await gauge(`${genie.apiUrl}/metrics`, 'genie_sse_buffered_bytes')).toBe(0);
  }, 60_000);
});
