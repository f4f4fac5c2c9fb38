import { Router } from 'express';
import type { NodeDirectory } from '../../activities/nodes/node-directory.js';
import type { ModelList } from '../../protocol/chat-response.js';
import type { PersonaCache } from '../personas.js';

/** Models served by at least one node that answers its health probe, then the persona aliases. */
export function modelsRoute(directory: NodeDirectory, personas: PersonaCache): Router {
  const router = Router();
  const created = Math.floor(Date.now() / 1000);
  router.get('/models', async (_req, res) => {
    const ids = new Set<string>();
    for (const s of directory.snapshot()) if (s.healthy) s.models.forEach((m) => ids.add(m));
    const body: ModelList = {
      object: 'list',
      data: [
        ...[...ids].sort().map((id) => ({ id, object: 'model' as const, created, owned_by: 'genie' })),
        ...Object.entries(await personas.all()).map(([id, model]) => ({ id, object: 'model' as const, created, owned_by: 'genie', persona_of: model })),
      ],
    };
    res.json(body);
  });
  return router;
}
