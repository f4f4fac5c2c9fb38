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

/** GET /v1/me: who this API key is — the ids its budget caps are set on (snake_case like all of /v1). */
export const apiKeyInfoSchema = z.object({
  object: z.literal('api_key'),
  key_id: z.string(),
  org_id: z.string(),
  application_id: z.string(),
  member_id: z.string(),
  user_id: z.string(),
});
export type ApiKeyInfo = z.infer<typeof apiKeyInfoSchema>;
