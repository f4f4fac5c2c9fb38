import path from 'node:path';
import express, { Router } from 'express';
import { renderDocsPage, WEB_DIR } from '../docs/page.js';

// `/` — the documentation page with "Try it" — and `/assets/*`, its static CSS/JS (no build step).
// The page talks only to this origin: the CSP's connect-src 'self' is what keeps a pasted API key
// from ever being sent anywhere but Genie, and default-src 'self' keeps the page working offline.

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

/** A Host header is caller-controlled: only a plain host[:port] is echoed into the examples. */
function originOf(req: express.Request): string {
  const host = req.get('host') ?? '';
  return /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? `${req.protocol}://${host}` : 'http://127.0.0.1:8080';
}

export function docsPageRoute(): Router {
  const router = Router();
  router.get('/', (req, res) => {
    res.set({ ...securityHeaders, 'cache-control': 'no-cache' }).type('html').send(renderDocsPage(originOf(req)));
  });
  router.use(
    '/assets',
    express.static(path.join(WEB_DIR, 'assets'), {
      index: false,
      redirect: false,
      setHeaders: (res) => res.setHeader('x-content-type-options', 'nosniff'),
    }),
  );
  return router;
}
