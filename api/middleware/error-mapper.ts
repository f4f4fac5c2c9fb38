import type { ErrorRequestHandler, Response } from 'express';
import { ApplicationFailure, CancelledFailure, TerminatedFailure, TimeoutFailure, ActivityFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { Logger } from 'pino';
import { APPLICATION_FAILURE_TYPE, GenieError, genieErrorBodySchema } from '../../protocol/errors.js';

/** Anything thrown on the request path → the one caller-facing error (DESIGN §3a). */
export function toGenieError(e: unknown): GenieError {
  if (e instanceof GenieError) return e;
  if (e instanceof WorkflowFailedError || e instanceof WorkflowUpdateFailedError) return fromFailure(e.cause);
  if (isBodyParserError(e)) {
    if (e.type === 'entity.parse.failed') return GenieError.badRequest(`request body is not valid JSON: ${e.message}`);
    if (e.type === 'entity.too.large') return new GenieError({ ...GenieError.badRequest('request body too large').body, status: 413 });
    return GenieError.badRequest(e.message);
  }
  return GenieError.internal();
}

function fromFailure(cause: unknown): GenieError {
  if (cause instanceof ActivityFailure) return fromFailure(cause.cause);
  if (cause instanceof ApplicationFailure && cause.type === APPLICATION_FAILURE_TYPE) {
    const body = genieErrorBodySchema.safeParse(cause.details?.[0]);
    if (body.success) return new GenieError(body.data);
  }
  if (cause instanceof CancelledFailure) return new GenieError({ ...GenieError.internal('the completion was cancelled').body, status: 499 });
  if (cause instanceof TerminatedFailure) return GenieError.internal('the completion was terminated by an operator');
  if (cause instanceof TimeoutFailure) return GenieError.unavailable('the completion timed out waiting for a node');
  return GenieError.internal();
}

function isBodyParserError(e: unknown): e is { type: string; message: string; status: number } {
  return typeof e === 'object' && e !== null && typeof (e as { type?: unknown }).type === 'string' && 'status' in e;
}

export function sendError(res: Response, err: GenieError): void {
  for (const [k, v] of Object.entries(err.body.headers ?? {})) res.setHeader(k, v);
  res.status(err.body.status).json(err.toEnvelope());
}

export function errorMapper(log: Logger): ErrorRequestHandler {
  return (e, req, res, _next) => {
    const err = toGenieError(e);
    if (err.body.status >= 500) log.error({ err: e, completionId: res.locals.completionId, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    sendError(res, err);
  };
}
