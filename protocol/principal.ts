import { z } from 'zod';

/** Who is calling: what an API key resolves to, carried into the workflow for budgets and audit. */
export const principalSchema = z.object({
  keyId: z.string(),
  orgId: z.string(),
  applicationId: z.string(),
  memberId: z.string(),
  userId: z.string(),
});
export type Principal = z.infer<typeof principalSchema>;
