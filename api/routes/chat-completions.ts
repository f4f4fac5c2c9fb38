import { Router } from 'express';
import type { Logger } from 'pino';
import { resolveMode } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import type { CompletionService } from '../completions.js';
import { IDEMPOTENCY_KEY_PATTERN, requestHash } from '../idempotency.js';
import { principalOf } from '../middleware/auth.js';
import { validateChatRequest } from '../middleware/validate.js';
import { budgetHeaders } from '../budget-headers.js';

export function chatCompletionsRoute(completions: CompletionService, log: Logger): Router {
  const router = Router();
  router.post('/chat/completions', async (req, res) => {
    const request = validateChatRequest(req.body, log);
    const key = req.get('idempotency-key');
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw GenieError.badRequest('Idempotency-Key must be 1–255 printable ASCII characters.', 'Idempotency-Key');
    }
    const call = { principal: principalOf(res.locals), request, idempotency: key ? { key, hash: requestHash(req.body) } : null };
    switch (resolveMode(request)) {
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
