import { z } from 'zod';
import { nodeEngineSchema, nodeModelSchema } from '../activities/nodes/node-list.js';
import { storedText, storedUrl } from './stored-text.js';

export const nodeStateSchema = z.enum(['active', 'draining', 'down']);
export type NodeState = z.infer<typeof nodeStateSchema>;

/** Load as the node reports it (vLLM /metrics, Triton metrics); null fields were not reported. */
export const nodeLoadSchema = z.object({
  running: z.number().nullable(),
  waiting: z.number().nullable(),
  kvCacheUsage: z.number().nullable(),
  /** Finished requests so far (a counter): progress between probes tells busy from hung. */
  finished: z.number().nullable().default(null),
});
export type NodeLoad = z.infer<typeof nodeLoadSchema>;

export const nodeRecordSchema = z.object({
  id: z.string(),
  fleet: z.string(),
  name: z.string(),
  url: z.string(),
  engine: nodeEngineSchema,
  metricsUrl: z.string().nullable(),
  modelNames: z.record(z.string(), z.string()),
  /** Configured context lengths per Genie model id (`*`: every model), for engines that report none. */
  contextLengths: z.record(z.string(), z.number().int().positive()),
  state: nodeStateSchema,
  models: z.array(z.string()),
  /** Per served model (Genie's id): the engine's name for it, its context length, its inputs. */
  modelInfo: z.record(z.string(), nodeModelSchema),
  capabilities: z.array(z.string()),
  healthy: z.boolean(),
  load: nodeLoadSchema.nullable(),
  lastProbe: z.record(z.string(), z.unknown()).nullable(),
  probedAt: z.string().nullable(),
});
export type NodeRecord = z.infer<typeof nodeRecordSchema>;
/**
 * What ops read per node: completions it served in the last 24 h that cost more than their reservation
 * (the node reported more tokens than the bound Genie reserved for; booked all the same, never silent).
 */
export const nodeOvershootSchema = z.object({ completions: z.number().int(), microUsd: z.number().int(), sinceHours: z.number().int() });
export type NodeOvershoot = z.infer<typeof nodeOvershootSchema>;
export const nodeViewSchema = nodeRecordSchema.extend({ overshoot: nodeOvershootSchema });
export const nodeListSchema = z.object({ data: z.array(nodeViewSchema) });

export const createNodeSchema = z.object({
  name: storedText().min(1).max(100),
  url: storedUrl(),
  engine: nodeEngineSchema,
  /** Where its Prometheus metrics are when not at `<url>/metrics` (Triton: its metrics port). */
  metricsUrl: storedUrl().optional(),
  /** Genie model id → the engine's model name (Triton repository names cannot always carry Genie's ids). */
  modelNames: z.record(storedText().min(1).max(256), storedText().min(1).max(256)).optional(),
  /** Genie model id (or `*`) → context length in tokens (prompt + output): Triton reports none. */
  contextLengths: z.record(storedText().min(1).max(256), z.number().int().positive().max(100_000_000)).optional(),
});
export const patchNodeSchema = z.object({ state: nodeStateSchema });
