import { estimatePromptTokens, promptTokenBound } from '../../protocol/token-estimate.js';
import { countPromptTokens } from '../../simulator/prompt-tokens.js';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { ledgerCheck } from '../support/budget-check.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { testStack } from '../support/stack.js';
import { awayFromWindowReset, createTenant, orgCapUsage, putCap } from '../support/tenants.js';

// 300 concurrent requests against one cap that fits exactly k reservations, through two API processes and two
// workers sharing one Temporal and one Postgres: at least k succeed, the rest get 402, spend ≤ cap —
// with prices on input and output, and a node that counts prompt tokens its own way (its chat
// template and tokenizer rules), above Genie's estimate for some prompts and below it for others.

const logs: string[] = [];

describe('budget race across replicas', () => {
  let sim: Simulator;
  let genie: IsolatedGenie;
  beforeAll(async () => {
    sim = await startSimulator({ port: 0, models: ['race-model'], maxNumSeqs: 512 });
    genie = await startIsolatedGenie({ nodes: `race:vllm=${sim.url}`, apis: 2, workers: 2, onLine: (source, line) => logs.push(`[${source}] ${line}`) });
    // 1 µUSD per input token, 2 per output token.
    const res = await fetch(`${testStack().apiUrl}/admin/v1/prices/race-model`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: JSON.stringify({ inputMicroUsdPerMTok: 1_000_000, outputMicroUsdPerMTok: 2_000_000 }),
    });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await genie?.stop();
    await sim?.close();
  });

  it('admits at least the k that fit, refuses the rest with 402, and never spends past the cap', async () => {
    await awayFromWindowReset();
    const t = await createTenant();
    const k = 23;
    // Two kinds of prompt, alternating, whose counts differ from Genie's estimate in both directions: the
    // node counts prose of long words as fewer tokens than the estimate, numbers as many more.
    const prose = 'wonderful beautiful delightful marvellous splendid exquisite remarkable fantastic';
    const messages = (i: number) => [{ role: 'user' as const, content: i % 2 === 0 ? `${prose} ${prose}` : `race ${String(i).padStart(3, '0')} 3141592653 5897932384 6264338327` }];
    for (const [i, direction] of [[0, -1], [1, 1]] as const) {
      expect(Math.sign(countPromptTokens({ messages: messages(i) }) - estimatePromptTokens(messages(i)))).toBe(direction);
    }
    // Each request reserves the documented prompt bound (no engine counts more) plus its 5 output tokens.
    const reservation = (i: number) => promptTokenBound({ messages: messages(i) }) + 2 * 5;
    const actual = (i: number) => countPromptTokens({ messages: messages(i) }) + 2 * 5; // what the node bills
    expect(actual(0)).toBeLessThan(reservation(0));
    expect(actual(1)).toBeLessThan(reservation(1));
    const cap = k * Math.max(reservation(0), reservation(1));
    await putCap('org', t.orgId, 'day', cap);
    const results = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const res = await fetch(`${genie.apiUrls[i % 2]}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.apiKey}` },
          body: JSON.stringify({ model: 'race-model', max_tokens: 5, messages: messages(i) }),
        });
        const body = (await res.json()) as { usage?: { prompt_tokens: number; completion_tokens: number }; capLayer?: string };
        return { i, status: res.status, body };
      }),
    );
    const others = results.filter((r) => r.status !== 200 && r.status !== 402);
    if (others.length) console.log(logs.filter((l) => /timed out|Timeout|timeout|heartbeat/i.test(l)).slice(0, 20).join('\n'));
    expect(others).toEqual([]);
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    // k reservations fit at once; settling releases what the bound over-reserved, so later requests may
    // fit too — never more than the cap can pay for at the node's real counts.
    expect(ok.length).toBeGreaterThanOrEqual(k);
    const billed = ok.reduce((n, r) => n + actual(r.i), 0);
    expect(billed).toBeLessThanOrEqual(cap);
    expect(refused).toHaveLength(300 - ok.length);
    expect(ok.every((r) => r.body.usage?.completion_tokens === 5 && r.body.usage.prompt_tokens === countPromptTokens({ messages: messages(r.i) }))).toBe(true);
    expect(new Set(ok.map((r) => r.i % 2))).toEqual(new Set([0, 1])); // both kinds were admitted
    expect(refused.every((r) => r.body.capLayer === 'org')).toBe(true);

    // Settlement finishes in the workflows after the answers: wait for it, then compare.
    const end = Date.now() + 30_000;
    let counters: { spent: number; reserved: number } | undefined;
    for (;;) {
      counters = (await orgCapUsage(t.orgId))[0];
      if ((counters?.reserved === 0) || Date.now() > end) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Spend is what the node counted, never past the cap; nothing is left reserved.
    expect(counters).toEqual({ spent: billed, reserved: 0 });
    expect(counters!.spent).toBeLessThanOrEqual(cap);
    const check = ledgerCheck();
    expect(check.ok).toBe(true);
  }, 120_000);
});
