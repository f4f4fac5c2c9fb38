import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { listKeys, revokeKey, rotateKey } from '../../../db/key-lifecycle.js';
import { keyParamsSchema, listKeysQuerySchema, rotateKeySchema } from '../../../protocol/admin.js';
import { GenieError } from '../../../protocol/errors.js';
import { listPage } from '../../../protocol/list-page.js';
import { parseWith } from '../../middleware/parse-body.js';

const noSuchKey = () => GenieError.notFound('No such API key.');

/** Listing, revoking and rotating API keys (issuing one is POST /applications/{id}/keys, in tenancy.ts). */
export function adminKeysRoute(orm: MikroORM): Router {
  const router = Router();
  const em = () => orm.em.fork();
  router.get('/keys', async (req, res) => {
    const { after, limit, ...filter } = parseWith(listKeysQuerySchema, req.query);
    const page = await listKeys(em(), filter, { after, limit });
    if (!page) throw GenieError.badRequest(`No API key ${JSON.stringify(after)} to list after: pass the \`last_id\` of the previous page.`, 'after');
    res.json(listPage(page.keys, page.hasMore));
  });
  router.post('/keys/:keyId/revoke', async (req, res) => {
    const { keyId } = parseWith(keyParamsSchema, req.params);
    const revoked = await revokeKey(em(), keyId);
    if (!revoked) throw noSuchKey();
    res.json(revoked);
  });
  router.post('/keys/:keyId/rotate', async (req, res) => {
    const { keyId } = parseWith(keyParamsSchema, req.params);
    const { graceSeconds } = parseWith(rotateKeySchema, req.body);
    const outcome = await rotateKey(em(), keyId, graceSeconds);
    if (outcome.kind === 'not_found') throw noSuchKey();
    if (outcome.kind === 'revoked') {
      throw new GenieError({ status: 409, message: `The key is ${outcome.previous.state === 'revoked' ? 'revoked' : 'already rotated'}: rotate its successor, or issue a new key.`, type: 'invalid_request_error', code: 'key_revoked', param: 'keyId' });
    }
    res.status(201).json({ id: outcome.id, key: outcome.key, previous: outcome.previous });
  });
  return router;
}
