import { z } from 'zod';
import { PERSONA_ALIASES } from '../db/personas.js';
import { capLayerSchema, capSchema, capWindowSchema, priceSchema } from './budget.js';
import { listPageSchema } from './list-page.js';
import { storedText } from './stored-text.js';

// /admin/v1 bodies (camelCase, ids as strings).

export const createOrgSchema = z.object({ name: storedText().min(1).max(200) });
export const createUserSchema = z.object({ email: z.string().email().max(320) });
export const addMemberSchema = z.object({ userId: storedText().min(1), role: z.enum(['owner', 'admin', 'member']).default('member') });
export const createApplicationSchema = z.object({ name: storedText().min(1).max(200) });
export const createKeySchema = z.object({ memberId: storedText().min(1) });
export const putCapSchema = capSchema;
export const capKeySchema = z.object({ layer: capLayerSchema, subjectId: storedText().min(1), window: capWindowSchema });
export const putPriceSchema = priceSchema;

// Path parameters the admin routes pass to Postgres, parsed like bodies so a bad one is a 400 naming it.
export const orgParamsSchema = z.object({ orgId: storedText().min(1) });
export const applicationParamsSchema = z.object({ applicationId: storedText().min(1) });
export const priceParamsSchema = z.object({ model: storedText().min(1).max(256) });
export const nodeParamsSchema = z.object({ id: storedText().min(1) });

export const idSchema = z.object({ id: z.string() });
export const createdKeySchema = z.object({ id: z.string(), key: z.string() });

// API key lifecycle. A key's secret is shown once, when it is created or rotated; listings show only
// what tells keys apart (id, the first characters, dates), never the key or its hash.
export const keyParamsSchema = z.object({ keyId: storedText().min(1) });
/** Most keys one page of GET /keys holds: an org with thousands of keys is listed page by page. */
export const MAX_KEYS_PER_PAGE = 1000;
export const listKeysQuerySchema = z.object({
  orgId: storedText().min(1).optional(),
  applicationId: storedText().min(1).optional(),
  memberId: storedText().min(1).optional(),
  /** The id of the last key of the previous page (its `last_id`): the page starts after that key. */
  after: storedText().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_KEYS_PER_PAGE).default(100),
});
/** The longest a rotated key may keep working beside its successor (30 days). */
export const MAX_ROTATION_GRACE_SECONDS = 30 * 24 * 3600;
export const rotateKeySchema = z.object({
  /** How long the old key keeps working, so its callers can switch over; 0 = refused at once. */
  graceSeconds: z.number().int().min(0).max(MAX_ROTATION_GRACE_SECONDS).default(0),
});
/** `expiring`: rotated with a grace period that has not ended (`revokedAt` is in the future). */
export const keyStateSchema = z.enum(['active', 'expiring', 'revoked']);
export const keyViewSchema = z.object({
  id: z.string(),
  /** The key's first 12 characters (`sk-genie-` and three more), for humans telling keys apart. */
  prefix: z.string(),
  orgId: z.string(),
  applicationId: z.string(),
  memberId: z.string(),
  createdAt: z.string(),
  /** When the key is (or was) refused from; null while it is active. */
  revokedAt: z.string().nullable(),
  /** The key this one was rotated from. */
  replacesKeyId: z.string().nullable(),
  state: keyStateSchema,
});
export type KeyView = z.infer<typeof keyViewSchema>;
export const keyListSchema = listPageSchema(keyViewSchema);
/** POST /keys/{keyId}/rotate: the new key (shown only here) and the old one as it now stands. */
export const rotatedKeySchema = createdKeySchema.extend({ previous: keyViewSchema });

/** PUT /prices/{model} answers the price it stored, named by its model. */
export const priceViewSchema = z.object({ model: z.string() }).extend(priceSchema.shape);

export const personaAliasSchema = z.enum(PERSONA_ALIASES);
export const personaParamsSchema = z.object({ alias: personaAliasSchema });
export const putPersonaSchema = z.object({ model: storedText().min(1).max(256) });
export const personaSchema = z.object({ alias: personaAliasSchema, model: z.string() });
/** GET /personas: alias → the model id it resolves to. */
export const personaMapSchema = z.record(z.string(), z.string());
