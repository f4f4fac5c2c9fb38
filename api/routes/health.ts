import { Router } from 'express';
import type { DependencyMonitor } from '../dependency-monitor.js';
import type { Health } from '../../protocol/health.js';

/**
 * 200 only when both Postgres and Temporal answer; the body says which one does not. A process that is
 * shutting down answers 503 "draining" at once, so load balancers stop sending it new requests.
 */
export function healthRoute(dependencies: DependencyMonitor, draining: () => boolean = () => false): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    if (draining()) {
      res.status(503).json({ status: 'draining' } satisfies Health);
      return;
    }
    const { postgres, temporal } = await dependencies.check();
    const ok = postgres && temporal;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', postgres, temporal } satisfies Health);
  });
  return router;
}
