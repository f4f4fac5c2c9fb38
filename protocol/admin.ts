import { z } from 'zod';
import { capLayerSchema, capSchema, capWindowSchema, priceSchema } from './budget.js';

// /admin/v1 bodies (camelCase, ids as strings).

export const createOrgSchema = z.object({ name: z.string().min(1).max(200) });
export const createUserSchema = z.object({ email: z.string().email().max(320) });
export const addMemberSchema = z.object({ userId: z.string().min(1), role: z.enum(['owner', 'admin', 'member']).default('member') });
export const createApplicationSchema = z.object({ name: z.string().min(1).max(200) });
export const createKeySchema = z.object({ memberId: z.string().min(1) });
export const putCapSchema = capSchema;
export const capKeySchema = z.object({ layer: capLayerSchema, subjectId: z.string().min(1), window: capWindowSchema });
export const putPriceSchema = priceSchema;

export const idSchema = z.object({ id: z.string() });
export const createdKeySchema = z.object({ id: z.string(), key: z.string() });
