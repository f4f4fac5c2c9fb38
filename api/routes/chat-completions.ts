import { Router } from 'express';
import type { Logger } from 'pino';
import { resolveMode } from '../../protocol/chat-request.js';
import { GenieError } from '../../protocol/errors.js';
import type { CompletionService } from '../completions.js';
import { principalOf } from '../middleware/auth.js';
import { validateChatRequest } from '../middleware/validate.js';

export function chatCompletionsRoute(completions: CompletionService, log: Logger): Router {
  const router = Router();
  router.post('/chat/completions', async (req, res) => {
    const request = validateChatRequest(req.body, log);
    const mode = resolveMode(request);
    if (mode !== 'sync') throw GenieError.badRequest(`mode "${mode}" is not available yet`, request.mode ? 'mode' : 'stream');
    const body = await completions.sync(principalOf(res.locals), request);
    res.locals.completionId = body.id;
    res.json(body);
  });
  return router;
}
