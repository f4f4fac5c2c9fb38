import type { RequestHandler } from 'express';
import type { DependencyMonitor } from '../dependency-monitor.js';
import { dependencyDown } from '../../protocol/dependency-down.js';

/**
 * A completion needs Postgres (its reservation) and Temporal (its workflow): while either is known to be
 * down, refuse at once with 503 + Retry-After instead of holding the caller through retries that
 * cannot succeed. The monitor brings them back as soon as a check reaches them.
 */
export function requireDependencies(dependencies: DependencyMonitor): RequestHandler {
  return (req, _res, next) => {
    const down = req.method === 'POST' ? dependencies.down() : null;
    next(down ? dependencyDown(down) : undefined);
  };
}
