import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { BudgetStore } from '../../../db/budget-store.js';
import { deleteCap, setPrice, upsertCap } from '../../../db/budget-admin.js';
import { capKeySchema, priceParamsSchema, putCapSchema, putPriceSchema } from '../../../protocol/admin.js';
import { GenieError } from '../../../protocol/errors.js';
import { parseWith } from '../../middleware/parse-body.js';

export function adminBudgetsRoute(orm: MikroORM, budgets: BudgetStore): Router {
  const router = Router();
  router.put('/caps', async (req, res) => {
    const cap = parseWith(putCapSchema, req.body);
    await upsertCap(orm.em.fork(), cap);
    res.json(cap);
  });
  router.delete('/caps', async (req, res) => {
    const { layer, subjectId, window } = parseWith(capKeySchema, req.query);
    if (!(await deleteCap(orm.em.fork(), layer, subjectId, window))) throw GenieError.notFound('No such cap.');
    res.status(204).end();
  });
  router.put('/prices/:model', async (req, res) => {
    const { model } = parseWith(priceParamsSchema, req.params);
    const price = parseWith(putPriceSchema, req.body);
    await setPrice(orm.em.fork(), model, price);
    res.json({ model, ...price });
  });
  router.get('/usage', async (req, res) => {
    const { layer, subjectId, window } = parseWith(capKeySchema, req.query);
    res.json(await budgets.usage(layer, subjectId, window));
  });
  return router;
}
