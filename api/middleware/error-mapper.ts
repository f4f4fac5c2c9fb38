import type { ErrorRequestHandler, Response } from 'express';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Logger } from 'pino';
import type { GenieMetrics } from '../../activities/metrics.js';
import { GenieError } from '../../protocol/errors.js';
import { errorBodyOf } from '../../protocol/failures.js';
import { dependencyDown, unavailableDependency } from '../../protocol/dependency-down.js';
import type { DependencyMonitor } from '../dependency-monitor.js';
import type { SseSink } from '../completion/sse-sink.js';

/** Anything thrown on the request path → the one caller-facing error (DESIGN §3a). */
export function toGenieError(e: unknown): GenieError {
  if (e instanceof GenieError) return e;
  if (e instanceof WorkflowFailedError || e instanceof WorkflowUpdateFailedError) return new GenieError(errorBodyOf(e.cause));
  // Postgres or Temporal unreachable (auth of a key not cached, a workflow start): an honest 503.
  const down = unavailableDependency(e);
  if (down) return dependencyDown(down);
  if (isBodyParserError(e)) {
    if (e.type === 'entity.parse.failed') return GenieError.badRequest(`request body is not valid JSON: ${e.message}`);
    if (e.type === 'entity.too.large') return GenieError.requestTooLarge();
    return GenieError.badRequest(e.message);
  }
  // express's own client errors carry their status http-errors style (a path segment that is not valid
  // percent-encoding → 400 "Failed to decode param", a file sendFile cannot find → 404): the caller's
  // fault, so never a 500.
  const status = clientErrorStatus(e);
  if (status === 404) return GenieError.notFound(e instanceof Error ? e.message : 'Not found.');
  if (status) return new GenieError({ ...GenieError.badRequest(e instanceof Error ? e.message : 'Bad request.').body, status });
  return GenieError.internal();
}

function clientErrorStatus(e: unknown): number | null {
  const status = typeof e === 'object' && e !== null ? ((e as { status?: unknown }).status ?? (e as { statusCode?: unknown }).statusCode) : undefined;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status < 500 ? status : null;
}

function isBodyParserError(e: unknown): e is { type: string; message: string; status: number } {
  return typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string' && 'status' in e;
}

export function sendError(res: Response, err: GenieError): void {
  for (const [k, v] of Object.entries(err.body.headers ?? {})) res.setHeader(k, v);
  res.status(err.body.status).json(err.toEnvelope());
}

export function errorMapper(log: Logger, metrics?: GenieMetrics, dependencies?: DependencyMonitor): ErrorRequestHandler {
  return (e, req, res, _next) => {
    // What a request met tells the monitor at once; the next gate refuses without waiting for a check.
    dependencies?.observe(e);
    const err = toGenieError(e);
    if (err.body.code === 'budget-cap-hit' && err.body.extra) {
      metrics?.budgetRefusals.inc({ layer: String(err.body.extra.capLayer), window: String(err.body.extra.capWindow) });
    }
    if (err.body.status >= 500) log.error({ err: e, completionId: res.locals.completionId, path: req.path }, 'request failed');
    if (res.headersSent) {
      // Part of the answer is out: ending it cleanly would pass a truncated body off as whole. A stream
      // gets the inline error its sink writes (then [DONE]); any other response is cut short.
      const stream = res.locals.sseSink as SseSink | undefined;
      if (stream?.isOpen) stream.fail(err.body);
      else if (!res.writableEnded) res.destroy();
      return;
    }
    sendError(res, err);
  };
}
