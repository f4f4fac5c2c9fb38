import { z } from 'zod';

/**
 * GET /healthz: 200 with status "ok" only when both Postgres and Temporal answer; 503 names which does
 * not, or says "draining" (without the checks) once the process is shutting down.
 */
export const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable', 'draining']),
  postgres: z.boolean().optional(),
  temporal: z.boolean().optional(),
});
export type Health = z.infer<typeof healthSchema>;
