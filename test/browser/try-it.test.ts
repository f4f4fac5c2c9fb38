import type { Page } from 'playwright-core';
import { tryItDefaults } from '../../protocol/examples.js';
import { generateTokens } from '../../simulator/text.js';
import { startSimulator } from '../../simulator/server.js';
import { testStack } from '../support/stack.js';
import { createTenant, putCap, putPrice } from '../support/tenants.js';
import { launchBrowser, openDocs, originOf, paneText, screenshot, signIn, type BrowserSession } from './browser.js';

// The docs page's "Try it" widget in a real Chromium against the real stack: anonymous state,
// signing in, a stream filling the pane chunk by chunk, the inline error of a model that fails to
// load, an async job's status changes and a budget refusal. Screenshots land in test/artifacts/.

let session: BrowserSession;

beforeAll(async () => {
  session = await launchBrowser();
}, 60_000);

afterAll(async () => {
  await session?.close();
});

afterEach(() => {
  // Any CSP violation, failed asset or script error shows up as a console error: none allowed.
  // Chromium also logs the 401/402 answers these tests provoke on purpose; those are expected.
  const errors = session.pageErrors.splice(0).filter((e) => !/Failed to load resource: the server responded with a status of 40[12]/.test(e));
  expect(errors).toEqual([]);
  expect(session.foreignRequests.splice(0)).toEqual([]);
});

async function choose(page: Page, opts: { model?: string; mode?: 'sync' | 'stream' | 'async'; userMessage?: string; maxTokens?: number }) {
  if (opts.model) await page.selectOption('#model', opts.model);
  if (opts.mode) await page.click(`label[for="mode-${opts.mode}"]`);
  if (opts.userMessage !== undefined) await page.getByLabel('Message 2 content').fill(opts.userMessage);
  if (opts.maxTokens !== undefined) await page.getByLabel('max_tokens').fill(String(opts.maxTokens));
}

/**
 * Records the pane's stream text length on every DOM mutation, from inside the page: polling from
 * the test could miss the growth entirely at the test stack's 1 ms inter-token latency.
 */
async function observeStream(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    const pane = document.getElementById('response-pane');
    window.__streamLengths = [];
    new MutationObserver(() => {
      const out = pane.querySelector('.stream-output');
      window.__streamLengths.push({ at: performance.now(), length: out ? out.textContent.length : 0, finished: pane.textContent.includes('[finish_reason:') });
    }).observe(pane, { childList: true, subtree: true, characterData: true });
  })()`);
}

describe('the docs page "Try it" widget in Chromium', () => {
  it('is anonymous by default: Run disabled with "sign in to enable the Run button", the request shape shown live', async () => {
    const page = await openDocs(session);
    await expect(page.title()).resolves.toBe('Chat completions · Genie documentation');
    const run = page.locator('#run');
    expect(await run.isDisabled()).toBe(true);
    expect(await page.locator('#run-hint').innerText()).toBe('sign in to enable the Run button');
    expect(await run.getAttribute('aria-describedby')).toBe('run-hint');
    expect(await page.locator('#auth-state').innerText()).toBe('Anonymous');

    const curl = page.locator('#snippet-curl');
    expect(await curl.innerText()).toContain(`curl ${originOf(page)}/v1/chat/completions`);
    expect(await curl.innerText()).toContain('Authorization: Bearer $GENIE_API_KEY');
    expect(await curl.innerText()).toContain('"stream": true');
    await screenshot(page, 'try-it-anonymous');
    // The snippet follows the form: async mode, another message, no temperature.
    await choose(page, { mode: 'async', userMessage: 'Summarise the Genie docs.' });
    await page.getByLabel('temperature').fill('');
    const text = await curl.innerText();
    expect(text).toContain('"mode": "async"');
    expect(text).toContain('"content": "Summarise the Genie docs."');
    expect(text).not.toContain('temperature');
    expect(text).not.toContain('"stream"');
    await page.click('#tab-js');
    expect(await page.locator('#snippet-js').innerText()).toContain(`baseURL: '${originOf(page)}/v1'`);
    await page.click('#tab-py');
    expect(await page.locator('#snippet-py').innerText()).toContain(`base_url="${originOf(page)}/v1"`);
    expect(await page.locator('#panel-curl').isHidden()).toBe(true);

    // Accessible names for every control, and a live region for the answer.
    for (const label of ['Model or persona', 'temperature', 'top_p', 'max_tokens', 'Message 1 role', 'Message 1 content']) {
      expect(await page.getByLabel(label, { exact: true }).count()).toBe(1);
    }
    expect(await page.locator('#response-pane').getAttribute('aria-live')).toBe('polite');
    await screenshot(page, 'docs-page', 'full');
    await page.close();
  });

  it('signs in with a pasted key kept in sessionStorage only, sent only to Genie; a wrong key is refused inline', async () => {
    const page = await openDocs(session);
    const authorized: string[] = [];
    page.on('request', (r) => {
      if (r.headers().authorization) authorized.push(r.url());
    });

    await page.click('#sign-in-toggle');
    await page.fill('#api-key', 'sk-genie-not-a-real-key-0000000000000000000');
    await page.click('#sign-in-submit');
    await page.locator('#sign-in-error').filter({ hasText: 'not accepted' }).waitFor();
    expect(await page.locator('#sign-in-error').innerText()).toContain('401');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#run').isDisabled()).toBe(true);

    await page.fill('#api-key', testStack().apiKey);
    await page.click('#sign-in-submit');
    await page.locator('#sign-out').waitFor({ state: 'visible' });
    expect(await page.evaluate('sessionStorage.getItem("genie.apiKey")')).toBe(testStack().apiKey);
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(await page.evaluate('document.cookie')).toBe('');
    expect(await session.context.cookies()).toEqual([]);
    expect(await page.locator('#run').isEnabled()).toBe(true);
    expect(await page.locator('#run-hint').isHidden()).toBe(true);
    // The key never lands in the page's snippets.
    expect(await page.locator('#snippet-curl').innerText()).not.toContain(testStack().apiKey);

    // The model list now comes from /api/v1/models: served models and personas with their targets.
    const options = await page.locator('#model option').allInnerTexts();
    expect(options).toEqual(expect.arrayContaining(['qwen3:0.6b', 'broken:latest', 'lite → qwen3:0.6b']));
    const origin = originOf(page);
    expect(authorized.length).toBeGreaterThan(0);
    for (const url of authorized) expect(url.startsWith(`${origin}/api/v1/`)).toBe(true);

    // Signed in per tab: a reload keeps the key, signing out forgets it.
    await page.reload();
    await page.locator('#sign-out').waitFor({ state: 'visible' });
    await page.click('#sign-out');
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    expect(await page.locator('#run').isDisabled()).toBe(true);
    await page.close();
  });

  it('stream mode fills the pane progressively from the real SSE stream, then shows the finish reason', async () => {
    // A node of its own at 60 ms a token (registered in the shared fleet through the admin API), so a
    // pane that only filled once the whole response had arrived cannot pass for a stream.
    const slow = await startSimulator({ port: 0, models: ['tryit-slow'], timeToFirstToken: 50, interTokenLatency: 60 });
    await putPrice('tryit-slow'); // a fixture model, free on purpose
    const node = await fetch(`${testStack().apiUrl}/admin/v1/nodes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
      body: JSON.stringify({ name: `tryit-slow-${Date.now()}`, url: slow.url, engine: 'vllm' }),
    });
    expect(node.status).toBe(201);
    const nodeId = ((await node.json()) as { id: string }).id;
    await new Promise((r) => setTimeout(r, 1500)); // every process re-reads the registry within a second
    try {
      // The simulator's text is deterministic: pick a prompt with the longest natural answer (35
      // tokens) so the stream has room to be seen growing.
      const system = tryItDefaults.messages[0];
      const prompt = Array.from({ length: 400 }, (_, i) => `Tell me a story about GPU fleets, take ${i}.`).find(
        (p) => generateTokens(0, [system, { role: 'user', content: p }]).tokens.length === 35,
      )!;
      const expected = generateTokens(0, [system, { role: 'user', content: prompt }]).tokens.join('');

      const page = await openDocs(session);
      await signIn(page, testStack().apiKey);
      await choose(page, { model: 'tryit-slow', mode: 'stream', userMessage: prompt, maxTokens: 2048 });
      await observeStream(page);
      await page.click('#run');
      await page.locator('#response-pane').filter({ hasText: '[finish_reason: stop]' }).waitFor();

      const samples = (await page.evaluate('window.__streamLengths')) as Array<{ at: number; length: number; finished: boolean }>;
      const growing = samples.filter((s) => !s.finished && s.length > 0);
      const growth = [...new Set(growing.map((s) => s.length))];
      expect(growth.length).toBeGreaterThanOrEqual(3);
      // 35 tokens at 60 ms: text kept arriving for about two seconds, not in one burst.
      expect(growing[growing.length - 1].at - growing[0].at).toBeGreaterThan(1000);
      expect(growth).toEqual([...growth].sort((a, b) => a - b));
      expect(Math.min(...growth)).toBeLessThan(expected.length);

      const text = await page.locator('#response-pane .stream-output').innerText();
      expect(text.startsWith(expected)).toBe(true);
      expect(text).toContain('[finish_reason: stop]');
      expect(text).not.toContain('[error]');
      expect(await page.locator('#response-pane').getAttribute('aria-busy')).toBe('false');
      expect(await page.locator('#response-status').innerText()).toMatch(/^200 OK · stream · .*finish_reason stop/);
      await screenshot(page, 'try-it-stream');
      await page.close();
    } finally {
      await fetch(`${testStack().apiUrl}/admin/v1/nodes/${nodeId}`, { method: 'DELETE', headers: { authorization: `Bearer ${testStack().adminToken}` } });
      await slow.close();
    }
  });

  it('a model that fails to load shows the inline error and finish_reason error — never a blank pane', async () => {
    const page = await openDocs(session);
    await signIn(page, testStack().apiKey);
    await choose(page, { model: 'broken:latest', mode: 'stream' });
    await page.click('#run');
    await page.locator('#response-pane').filter({ hasText: '[finish_reason: error]' }).waitFor();
    const text = await paneText(page);
    expect(text).toContain('[error] 500 model failed to load: broken:latest');
    expect(text.indexOf('[error] 500')).toBeLessThan(text.indexOf('[finish_reason: error]'));
    expect(await page.locator('#response-pane .marker.tone-error').count()).toBe(2);
    await screenshot(page, 'try-it-stream-error');
    await page.close();
  });

  it('sync mode, run from the keyboard (Ctrl+Enter), shows the JSON body', async () => {
    const page = await openDocs(session);
    await signIn(page, testStack().apiKey);
    await choose(page, { model: 'lite', mode: 'sync' });
    await page.getByLabel('Message 2 content').focus();
    await page.keyboard.press('Control+Enter');
    await page.locator('#response-pane').filter({ hasText: '"chat.completion"' }).waitFor();
    const text = await paneText(page);
    expect(text).toContain('"model": "qwen3:0.6b"'); // the persona resolved
    expect(text).toContain('"finish_reason": "stop"');
    expect(await page.locator('#response-status').innerText()).toMatch(/^200 OK · sync/);
    await page.close();
  });

  it('async mode shows the 202 body, then the job status changes until completed', async () => {
    const page = await openDocs(session);
    await signIn(page, testStack().apiKey);
    await choose(page, { model: 'qwen3:0.6b', mode: 'async' });
    await page.click('#run');
    await page.locator('#job-timeline [data-status="completed"]').waitFor({ timeout: 30_000 });
    const statuses = await page.locator('#job-timeline .timeline-status').allInnerTexts();
    expect(statuses[0]).toBe('queued');
    expect(statuses[statuses.length - 1]).toBe('completed');
    expect(new Set(statuses).size).toBe(statuses.length); // one entry per change
    const text = await paneText(page);
    expect(text).toContain('"object": "chat.completion.async"');
    expect(text).toContain('"status": "completed"');
    expect(text).toContain('"object": "chat.completion"');
    expect(await page.locator('#response-status').innerText()).toMatch(/^Job completed/);
    await screenshot(page, 'try-it-async');
    await page.close();
  });

  it('a budget refusal shows 402 with capLayer, capWindow and resetsAt readably', async () => {
    const tenant = await createTenant();
    await putCap('member', tenant.memberId, 'day', 1); // any request costs more than 1 µUSD
    const page = await openDocs(session);
    await signIn(page, tenant.apiKey);
    await choose(page, { model: 'qwen3:0.6b', mode: 'stream' });
    await page.click('#run');
    await page.locator('#response-pane .error-card').waitFor();
    const now = new Date();
    const resetsAt = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString();
    const card = await page.locator('#response-pane .error-card').innerText();
    expect(card).toContain('402 Payment Required');
    expect(card).toMatch(/capLayer\s+member/);
    expect(card).toMatch(/capWindow\s+day/);
    expect(card).toMatch(new RegExp(`resetsAt\\s+${resetsAt.replace(/\./g, '\\.')}`));
    expect(card).toMatch(/\(in \d+ (h|min)/); // and when that is, in words
    expect(card).toMatch(/Retry-After\s+\d+ s/);
    expect(await page.locator('#response-status').innerText()).toMatch(/^402 Payment Required · stream/);
    await screenshot(page, 'try-it-budget-402');
    await page.close();
  });
});
