import type { RequestHandler } from 'express';
import type { GenieMetrics } from '../../activities/metrics.js';

/**
 * Counts and times every chat completion request when its response closes (a stream: its last byte,
 * or the caller leaving). Labels come from what the route learned; a request refused before its body
 * was understood has no trustworthy model, and a model that does not exist must not become a label
 * (a fuzzer would mint a time series per request).
 */
export function requestMetrics(metrics: GenieMetrics): RequestHandler {
  return (_req, res, next) => {
    const started = process.hrtime.bigint();
    res.locals.startedAt = started;
    res.once('close', () => {
      const status = res.statusCode;
      const known = res.locals.model && status !== 400 && status !== 404;
      const labels = { mode: res.locals.mode ?? 'unknown', model: known ? String(res.locals.model) : 'unknown', status: String(status) };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
