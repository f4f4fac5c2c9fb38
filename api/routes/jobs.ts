import { Router } from 'express';
import type { JobService } from '../jobs.js';
import { parseJobId } from '../jobs.js';
import { principalOf } from '../middleware/auth.js';

export function jobsRoute(jobs: JobService): Router {
  const router = Router();
  router.get('/jobs/:jobId', async (req, res) => {
    res.json(await jobs.get(principalOf(res.locals).orgId, parseJobId(req.params.jobId)));
  });
  router.post('/jobs/:jobId/cancel', async (req, res) => {
    res.json(await jobs.cancel(principalOf(res.locals).orgId, parseJobId(req.params.jobId)));
  });
  return router;
}
