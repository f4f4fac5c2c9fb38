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
    const principal = principalOf(res.locals);
    switch (resolveMode(request)) {
      case 'sync':
        res.json(await completions.sync(principal, request, res));
        return;
      case 'stream':
        await completions.stream(principal, request, res);
        return;
      case 'async':
        throw GenieError.badRequest('mode "async" is not available yet', 'mode');
    }
  });
  return router;
}
