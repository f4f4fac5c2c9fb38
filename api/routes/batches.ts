import { Router } from 'express';
import { batchParamsSchema, createBatchSchema, listBatchesQuerySchema } from '../../protocol/batch.js';
import type { BatchService } from '../batches.js';
import { listPage } from '../../protocol/list-page.js';
import { principalOf } from '../middleware/auth.js';
import { parseWith } from '../middleware/parse-body.js';

/** The Batch API (OpenAI's shapes), scoped to the key's org. */
export function batchesRoute(batches: BatchService): Router {
  const router = Router();
  router.post('/batches', async (req, res) => {
    res.json(await batches.create(principalOf(res.locals), parseWith(createBatchSchema, req.body)));
  });
  router.get('/batches', async (req, res) => {
    const { after, limit } = parseWith(listBatchesQuerySchema, req.query);
    const { batches: data, hasMore } = await batches.list(principalOf(res.locals).orgId, after, limit);
    res.json(listPage(data, hasMore));
  });
  router.get('/batches/:batchId', async (req, res) => {
    res.json(await batches.get(principalOf(res.locals).orgId, parseWith(batchParamsSchema, req.params).batchId));
  });
  router.post('/batches/:batchId/cancel', async (req, res) => {
    res.json(await batches.cancel(principalOf(res.locals).orgId, parseWith(batchParamsSchema, req.params).batchId));
  });
  return router;
}
