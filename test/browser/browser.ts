import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { testStack } from '../support/stack.js';

// Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work here).
// `make test` installs it (the /usr/bin/chromium prerequisite); a fresh profile per suite keeps
// storage from one run out of the next.

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export interface BrowserSession {
  context: BrowserContext;
  /** Requests a page made to any other origin than the Genie API it was loaded from (must be none). */
  foreignRequests: string[];
  /** Console errors, uncaught exceptions and CSP violations, per page. */
  pageErrors: string[];
  newPage(origin: string): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<BrowserSession> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`make test\` (it installs Debian's chromium) or \`apt-get install -y chromium\``);
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'genie-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1360, height: 900 },
    // Keep every request on loopback: no proxy lookups, no service workers from other origins.
    serviceWorkers: 'block',
  });
  const foreignRequests: string[] = [];
  const pageErrors: string[] = [];
  return {
    context,
    foreignRequests,
    pageErrors,
    async newPage(origin: string) {
      const page = await context.newPage();
      page.on('request', (r) => {
        const url = r.url();
        if (!url.startsWith(`${origin}/`) && !url.startsWith('data:')) foreignRequests.push(url);
      });
      page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
      });
      return page;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh tab (fresh sessionStorage) on the docs page of one of the stack's APIs — testStack() hands
 * them out in turn, so the suite's pages spread over every API process.
 */
export async function openDocs(session: BrowserSession): Promise<Page> {
  const origin = new URL(testStack().apiUrl).origin;
  const page = await session.newPage(origin);
  await page.goto(`${origin}/`, { waitUntil: 'load' });
  // main.js is a module script: wait until it wired the widget (the snippet is filled by it).
  await page.locator('#snippet-curl').filter({ hasText: 'curl' }).waitFor();
  return page;
}

export async function signIn(page: Page, apiKey: string): Promise<void> {
  await page.click('#sign-in-toggle');
  await page.fill('#api-key', apiKey);
  await page.click('#sign-in-submit');
  await page.locator('#sign-out').waitFor({ state: 'visible' });
}

/** A PNG in test/artifacts/: the whole page, or one element of it (e.g. the widget). */
export async function screenshot(page: Page, name: string, target: 'full' | string = '#try-it-widget'): Promise<void> {
  const file = path.join(ARTIFACTS, `${name}.png`);
  // The sticky top bar would be painted over an element taller than the viewport. Set through the
  // CSSOM: Playwright's `style` option injects a <style> the page's CSP (rightly) refuses.
  await page.evaluate(`document.querySelector('.topbar').style.position = 'static'`);
  if (target === 'full') await page.screenshot({ path: file, fullPage: true });
  else await page.locator(target).screenshot({ path: file });
  await page.evaluate(`document.querySelector('.topbar').style.position = ''`);
}

/** The origin (scheme, host, port) of the Genie API a page was loaded from. */
export function originOf(page: Page): string {
  return new URL(page.url()).origin;
}

/** The response pane's text as a reader sees it. */
export function paneText(page: Page): Promise<string> {
  return page.locator('#response-pane').innerText();
}
