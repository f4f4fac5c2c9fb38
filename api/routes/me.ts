import { Router } from 'express';
import type { ApiKeyInfo } from '../../protocol/principal.js';
import { principalOf } from '../middleware/auth.js';

/** Who this API key is: the ids its budget caps are set on. */
export function meRoute(): Router {
  const router = Router();
  router.get('/me', (_req, res) => {
    const p = principalOf(res.locals);
    res.json({ object: 'api_key', key_id: p.keyId, org_id: p.orgId, application_id: p.applicationId, member_id: p.memberId, user_id: p.userId } satisfies ApiKeyInfo);
  });
  return router;
}
