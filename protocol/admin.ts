import { z } from 'zod';
import { PERSONA_ALIASES } from '../db/personas.js';
import { capLayerSchema, capSchema, capWindowSchema, priceSchema } from './budget.js';
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

/** PUT /prices/{model} answers the price it stored, named by its model. */
export const priceViewSchema = z.object({ model: z.string() }).extend(priceSchema.shape);

export const personaAliasSchema = z.enum(PERSONA_ALIASES);
export const personaParamsSchema = z.object({ alias: personaAliasSchema });
export const putPersonaSchema = z.object({ model: storedText().min(1).max(256) });
export const personaSchema = z.object({ alias: personaAliasSchema, model: z.string() });
/** GET /personas: alias → the model id it resolves to. */
export const personaMapSchema = z.record(z.string(), z.string());
