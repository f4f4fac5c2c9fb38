import { Router } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { NodeDirectory } from '../../../activities/nodes/node-directory.js';
import { listNodes, removeNode, setNodeState, upsertNode } from '../../../db/nodes.js';
import { overshootsByNode } from '../../../db/overshoots.js';
import { GenieError } from '../../../protocol/errors.js';
import { nodeParamsSchema } from '../../../protocol/admin.js';
import { createNodeSchema, patchNodeSchema } from '../../../protocol/node.js';
import { parseWith } from '../../middleware/parse-body.js';

export interface AdminNodesDeps {
  orm: MikroORM;
  fleet: string;
  directory: NodeDirectory;
  probeNodes(): Promise<unknown>;
}

/** The node registry of this deployment's fleet. A new node is probed at once, so its models are known on return. */
export function adminNodesRoute(deps: AdminNodesDeps): Router {
  const router = Router();
  const em = () => deps.orm.em.fork();
  router.get('/nodes', async (_req, res) => {
    const nodes = await listNodes(em(), deps.fleet);
    const overshoots = await overshootsByNode(em(), nodes.map((n) => n.name));
    res.json({ data: nodes.map((n) => ({ ...n, overshoot: overshoots.get(n.name)! })) });
  });
  router.post('/nodes', async (req, res) => {
    const node = parseWith(createNodeSchema, req.body);
    const id = await upsertNode(em(), deps.fleet, { ...node, url: node.url.replace(/\/+$/, '') });
    await deps.probeNodes();
    await deps.directory.refresh();
    res.status(201).json({ id });
  });
  router.patch('/nodes/:id', async (req, res) => {
    const { id } = parseWith(nodeParamsSchema, req.params);
    const { state } = parseWith(patchNodeSchema, req.body);
    const updated = await setNodeState(em(), deps.fleet, id, state);
    if (!updated) throw GenieError.notFound('No such node.');
    await deps.directory.refresh();
    res.json(updated);
  });
  router.delete('/nodes/:id', async (req, res) => {
    const { id } = parseWith(nodeParamsSchema, req.params);
    if (!(await removeNode(em(), deps.fleet, id))) throw GenieError.notFound('No such node.');
    await deps.directory.refresh();
    res.status(204).end();
  });
  return router;
}
