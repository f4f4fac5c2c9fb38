import { z } from 'zod';
import { toolCallDeltaSchema, usageSchema } from '../../protocol/chat-response.js';
import { toolCallSchema } from '../../protocol/chat-request.js';
import type { NodeRequest } from '../../protocol/chat-request.js';
import type { NodeModel, NodeRef } from '../nodes/node-list.js';
import type { NodeLoad } from '../../protocol/node.js';

// What Genie reads back from a node, parsed leniently: engines add fields of their own.

export const nodeCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullable().optional(), tool_calls: z.array(toolCallSchema).nullable().optional() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: usageSchema,
});
export type NodeCompletion = z.infer<typeof nodeCompletionSchema>;

export const nodeChunkSchema = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().default(0),
      delta: z
        .object({ role: z.string().optional(), content: z.string().nullable().optional(), tool_calls: z.array(toolCallDeltaSchema).nullable().optional() })
        .default({}),
      finish_reason: z.string().nullable().optional(),
    }),
  ),
  usage: usageSchema.nullable().optional(),
});
export type NodeChunk = z.infer<typeof nodeChunkSchema>;

/** One engine's protocol. Implementations never retry: Temporal owns retries (DESIGN §6.5). */
export interface NodeClient {
  complete(node: NodeRef, request: NodeRequest, signal: AbortSignal): Promise<NodeCompletion>;
  /** `onAccepted` runs when the node's response head says it took the request (before any token). */
  stream(node: NodeRef, request: NodeRequest, signal: AbortSignal, onAccepted?: () => void): AsyncGenerator<NodeChunk>;
  /** Served models by Genie's id; `known` is what the last probe learned (facts that never change are not asked again). */
  models(node: NodeRef, signal?: AbortSignal, known?: Record<string, NodeModel>): Promise<Record<string, NodeModel>>;
  health(node: NodeRef, signal?: AbortSignal): Promise<boolean>;
  load(node: NodeRef): Promise<NodeLoad>;
}
