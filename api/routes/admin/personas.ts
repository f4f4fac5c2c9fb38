import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { listPersonas, setPersona } from '../../../db/personas.js';
import { personaParamsSchema, putPersonaSchema } from '../../../protocol/admin.js';
import { parseWith } from '../../middleware/parse-body.js';

export function adminPersonasRoute(orm: MikroORM): Router {
  const router = Router();
  router.get('/personas', async (_req, res) => {
    res.json(await listPersonas(orm.em.fork()));
  });
  router.put('/personas/:alias', async (req, res) => {
    const { alias } = parseWith(personaParamsSchema, req.params);
    const { model } = parseWith(putPersonaSchema, req.body);
    await setPersona(orm.em.fork(), alias, model);
    res.json({ alias, model });
  });
  return router;
}
