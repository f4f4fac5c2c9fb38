import { createParser } from 'eventsource-parser';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startCpuHog } from '../support/cpu-hog.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { testStack, withDb } from '../support/stack.js';
import { awayFromWindowReset, createTenant, putCap } from '../support/tenants.js';

// Busy is slow, never false: with every core spinning in a busy loop, a burst, a budget race and a
// failover still get true answers — late if need be, never a "timed out" 503 about a healthy node.

interface Answer {
  status: number;
  text: string;
}

describe('on a machine whose every core is busy', () => {
  let refusing: Simulator, healthy: Simulator;
  let genie: IsolatedGenie;
  let hog: { stop(): Promise<void> } | null = null;
  const messages = [{ role: 'user' as const, content: 'busy?' }];

  beforeAll(async () => {
    [refusing, healthy] = await Promise.all([
      startSimulator({ port: 0, models: ['busy-model'], failureInjectionRate: 100, failureTypes: ['server_error'], maxNumSeqs: 512 }),
      startSimulator({ port: 0, models: ['busy-model'], maxNumSeqs: 512 }),
    ]);
    genie = await startIsolatedGenie({ nodes: `refusing:vllm=${refusing.url},healthy:vllm=${healthy.url}`, apis: 2, workers: 1, env: { GENIE_PROBE_INTERVAL_MS: '600000' } });
    // 1 µUSD per output token, prompts free: a 5-token request reserves and costs exactly 5 µUSD.
    const res = await fetch(`${testStack().apiUrl}/admin/v1/prices/busy-model`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: JSON.stringify({ inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 1_000_000 }),
    });
    expect(res.status).toBe(200);
    hog = await startCpuHog();
  });
  afterAll(async () => {
    await hog?.stop();
    await genie?.stop();
    await Promise.all([refusing, healthy].map((s) => s?.close()));
  });

  async function call(i: number, apiKey: string, stream: boolean): Promise<Answer> {
    const res = await fetch(`${genie.apiUrls[i % genie.apiUrls.length]}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ model: 'busy-model', max_tokens: 5, messages, stream }),
    });
    if (!stream || res.status !== 200) return { status: res.status, text: await res.text() };
    let text = '';
    let finish: string | null = null;
    const parser = createParser({
      onEvent: (e) => {
        if (e.data === '[DONE]') return;
        const c = JSON.parse(e.data) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> };
        text += c.choices[0]?.delta.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      },
    });
    const decoder = new TextDecoder();
    for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) parser.feed(decoder.decode(part, { stream: true }));
    // A stream is only a success if it ended as a completion does (max_tokens 5: `length`), not `error`.
    return { status: finish === 'stop' || finish === 'length' ? 200 : 500, text };
  }

  it('a burst of 120 sync and stream requests, with a refusing node in the fleet, all complete', async () => {
    const answers = await Promise.all(Array.from({ length: 120 }, (_, i) => call(i, testStack().apiKey, i % 2 === 1)));
    const wrong = answers.filter((a) => a.status !== 200);
    expect(wrong).toEqual([]);
    expect(answers.every((a) => !a.text.includes('[error]'))).toBe(true);
    // The refusing node was tried (and failed over from, invisibly).
    const text = await (await fetch(`${refusing.url}/metrics`)).text();
    expect(Number(text.match(/^genie_sim_requests_received_total\S* (\d+)/m)?.[1] ?? 0)).toBeGreaterThan(0);
  }, 180_000);

  it('a race of 150 requests on a cap that admits 17: exactly 17 served, the rest a true 402, spend = cap', async () => {
    await awayFromWindowReset();
    const t = await createTenant();
    const k = 17;
    await putCap('org', t.orgId, 'day', k * 5);
    const answers = await Promise.all(Array.from({ length: 150 }, (_, i) => call(i, t.apiKey, i % 3 === 0)));
    const others = answers.filter((a) => a.status !== 200 && a.status !== 402);
    expect(others).toEqual([]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(k);
    expect(answers.filter((a) => a.status === 402).every((a) => a.text.includes('budget-cap-hit'))).toBe(true);
    const end = Date.now() + 60_000;
    let counters: { spent: number; reserved: number } | undefined;
    for (;;) {
      const rows = await withDb((db) => db.query(`select spent_micro_usd::int as spent, reserved_micro_usd::int as reserved from cap_usage where layer = 'org' and subject_id = $1 and "window" = 'day'`, [t.orgId]));
      counters = rows.rows[0];
      if (counters?.reserved === 0 || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(counters).toEqual({ spent: k * 5, reserved: 0 });
  }, 180_000);
});
