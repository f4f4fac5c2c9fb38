import { Router } from 'express';
import type { Registry } from 'prom-client';

/**
 * Prometheus exposition of this API process: Genie's metrics, node health from the registry, Node.js
 * process metrics and the Temporal runtime's. Unauthenticated like most scrape targets: expose the
 * API port to the public only through a proxy that does not route /metrics.
 */
export function metricsRoute(registry: Registry, beforeScrape?: () => void): Router {
  const router = Router();
  router.get('/metrics', async (_req, res) => {
    beforeScrape?.();
    res.type(registry.contentType).send(await registry.metrics());
  });
  return router;
}
