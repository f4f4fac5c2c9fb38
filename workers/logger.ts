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

/** knex prefixes a failed query's error message (and stack) with its SQL, parameters inlined. */
const SQL_PREFIX = /^\s*(insert|select|update|delete|with|call)\b[\s\S]* - /i;

/**
 * Errors as pino serializes them, except database errors: only the driver's own message, code and SQL
 * state survive — never the statement, whose inlined parameters may be a webhook secret or a key hash.
 */
export function serializeError(err: unknown): unknown {
  const out = pino.stdSerializers.err(err as Error) as unknown as Record<string, unknown>;
  if (typeof out?.message === 'string' && SQL_PREFIX.test(out.message)) {
    const { type, code, sqlState } = out as { type?: string; code?: string; sqlState?: string };
    return { type, code, sqlState, message: out.message.replace(SQL_PREFIX, '[sql redacted] - ') };
  }
  return out;
}

/** Structured JSON logs (one object a line, pino); credentials are censored before a line is written. */
export function createLogger(component: string, level = process.env.GENIE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { component, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: { err: serializeError },
  });
}
