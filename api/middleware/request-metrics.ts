import type { RequestHandler } from 'express';
import type { GenieMetrics } from '../../activities/metrics.js';

/**
 * Counts and times every chat completion request when its response closes (a stream: its last byte,
 * or the caller leaving). Labels come from what the route learned; a request refused before its body
 * was understood has no trustworthy model, and a model that does not exist must not become a label
 * (a fuzzer would mint a time series per request): only a model some node serves, or a persona alias,
becomes a label.
 */
export function requestMetrics(metrics: GenieMetrics, isServed: (model: string) => boolean): RequestHandler {
  return (_req, res, next) => {
    const started = process.hrtime.bigint();
    res.locals.startedAt = started;
    res.once('close', () => {
      // A caller that left before its answer was complete: 499, as nginx counts it, never a success.
      const status = res.writableFinished ? res.statusCode : 499;
      const model = res.locals.model as string | undefined;
      const known = model !== undefined && status !== 400 && status !== 404 && isServed(model);
      const labels = { mode: res.locals.mode ?? 'unknown', model: known ? model : 'unknown', status: String(status) };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
