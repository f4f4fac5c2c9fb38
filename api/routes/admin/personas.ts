import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { listPersonas, PERSONA_ALIASES, setPersona } from '../../../db/personas.js';
import { parseWith } from '../../middleware/parse-body.js';

const putPersonaSchema = z.object({ model: z.string().min(1).max(256) });
const aliasSchema = z.object({ alias: z.enum(PERSONA_ALIASES) });

export function adminPersonasRoute(orm: MikroORM): Router {
  const router = Router();
  router.get('/personas', async (_req, res) => {
    res.json(await listPersonas(orm.em.fork()));
  });
  router.put('/personas/:alias', async (req, res) => {
    const { alias } = parseWith(aliasSchema, req.params);
    const { model } = parseWith(putPersonaSchema, req.body);
    await setPersona(orm.em.fork(), alias, model);
    res.json({ alias, model });
  });
  return router;
}
