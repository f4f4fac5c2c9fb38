import pino, { type Logger } from 'pino';

/**
 * Credentials wherever they could appear in a line: request headers (pino-http logs them), webhook
 * secrets of a request body or job, and any object that carries a key or token by name.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  '*.authorization',
  'apiKey',
  '*.apiKey',
  'adminToken',
  '*.adminToken',
  'secret',
  '*.secret',
  'webhook.secret',
  '*.webhook.secret',
  'body.webhook.secret',
  'request.webhook.secret',
];

/** Structured JSON logs (one object a line, pino); credentials are censored before a line is written. */
export function createLogger(component: string, level = process.env.GENIE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
