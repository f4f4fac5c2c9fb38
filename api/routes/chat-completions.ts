import { Router, type Response } from 'express';
import type { Logger } from 'pino';
import { resolveMode } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import type { CompletionService } from '../completion/service.js';
import { IDEMPOTENCY_KEY_PATTERN, requestHash } from '../idempotency.js';
import { principalOf } from '../middleware/auth.js';
import { validateChatRequest } from '../../protocol/validate-chat-request.js';
import { budgetHeaders } from '../budget-headers.js';

/** The request's own logger: pino-http's (request id) plus the completion id once chosen. */
function requestLog(res: Response, fallback: Logger): Logger {
  return ((res as Response & { log?: Logger }).log ?? fallback).child({ completionId: res.locals.completionId });
}

export function chatCompletionsRoute(completions: CompletionService, log: Logger): Router {
  const router = Router();
  router.post('/chat/completions', async (req, res) => {
    const key = req.get('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw GenieError.badRequest('Idempotency-Key must be 1–255 printable ASCII characters.', 'Idempotency-Key');
    }
    const principal = principalOf(res.locals);
    // The id exists before validation, so even a refused request's log lines name it.
    const jobId = await completions.jobIdFor(principal.orgId, key);
    res.locals.completionId = `chatcmpl-${jobId}`;
    // On every answer, errors included: the id ops look up in the Temporal UI and the logs.
    res.set('x-genie-completion-id', res.locals.completionId);
    const request = validateChatRequest(req.body, requestLog(res, log));
    const mode = resolveMode(request);
    res.locals.mode = mode;
    res.locals.model = request.model;
    const call = { jobId, principal, request, idempotency: key ? { key, hash: requestHash(req.body) } : null };
    switch (mode) {
      case 'sync': {
        const { body, budget } = await completions.sync(call, res);
        res.set(budgetHeaders(budget)).json(body);
        return;
      }
      case 'stream':
        await completions.stream(call, res);
        return;
      case 'async': {
        const { accepted, budget } = await completions.async(call);
        res.status(202).set(budgetHeaders(budget)).json(accepted);
        return;
      }
    }
  });
  return router;
}
