import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Health } from '../../protocol/health.js';

/**
 * 200 only when both Postgres and Temporal answer; the body says which one does not. A process that is
 * shutting down answers 503 "draining" at once, so load balancers stop sending it new requests.
 */
export function healthRoute(orm: MikroORM, temporal: Client, draining: () => boolean = () => false): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    if (draining()) {
      res.status(503).json({ status: 'draining' } satisfies Health);
      return;
    }
    const within = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    const [postgres, temporalOk] = await Promise.all([
      within(orm.em.fork().getConnection().execute('select 1')).then(() => true, () => false),
      within(temporal.workflowService.getSystemInfo({})).then(() => true, () => false),
    ]);
    const ok = postgres && temporalOk;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal: temporalOk } satisfies Health);
  });
  return router;
}
