import { z } from 'zod';

export const nodeEngineSchema = z.enum(['vllm', 'triton']);

/** What a node said about one model it serves (learned by its probe). */
export const nodeModelSchema = z.object({
  /** The engine's own name for it, when it differs from Genie's model id (Triton repository names). */
  served: z.string().optional(),
  /** Prompt + output tokens the model accepts (vLLM's `max_model_len`); absent when the engine does not say. */
  contextLength: z.number().int().positive().optional(),
  /** Triton: the model's input names (its config), so each sampling field goes where this model takes it. */
  inputs: z.array(z.string()).optional(),
});
export type NodeModel = z.infer<typeof nodeModelSchema>;

/** A GPU node as the workflow sees it: enough to call it, nothing that changes per probe. */
export const nodeRefSchema = z.object({
  name: z.string(),
  url: z.url(),
  engine: nodeEngineSchema,
  /** Prometheus metrics when not at `<url>/metrics` (Triton serves them on their own port, 8002 by default). */
  metricsUrl: z.url().optional(),
  /** Genie model id → the engine's model name, for names an engine cannot carry (e.g. `:` in a Triton repository). */
  modelNames: z.record(z.string(), z.string()).optional(),
  /**
   * Genie model id (or `*`: every model of the node) → its context length, prompt + output tokens, as
   * the operator knows it (TensorRT-LLM's max_seq_len: Triton reports none). The smaller of this and what
   * the engine reports (vLLM's max_model_len) is what max_tokens is fitted to.
   */
  contextLengths: z.record(z.string(), z.number().int().positive()).optional(),
  /** The requested model on this node, as the selection saw it. */
  model: nodeModelSchema.optional(),
});
export type NodeRef = z.infer<typeof nodeRefSchema>;

/** The engine's name for a Genie model id on this node. */
export function servedName(node: NodeRef, model: string): string {
  return node.model?.served ?? node.modelNames?.[model] ?? model;
}

/** The engine's model name → Genie's id, through the node's configured names. */
export function reverseNames(node: NodeRef): (served: string) => string {
  const back = new Map(Object.entries(node.modelNames ?? {}).map(([id, served]) => [served, id]));
  return (served) => back.get(served) ?? served;
}

/**
 * `GENIE_NODES` (DESIGN §3a): comma-separated `engine=url` or `name:engine=url` entries, e.g.
 * `vllm=http://127.0.0.1:9101,triton=http://127.0.0.1:9102`. Unnamed nodes are named after engine+port.
 * An entry may add `;metrics=<url>` (a Triton's metrics port) and `;context=<tokens>` (the context length
 * of every model it serves). Model-name maps and per-model lengths need GENIE_NODES_FILE.
 */
export function parseNodeList(spec: string): NodeRef[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [main, ...options] = entry.split(';');
      const eq = main.indexOf('=');
      if (eq < 0) throw new Error(`GENIE_NODES entry "${entry}" is not engine=url`);
      const left = main.slice(0, eq);
      const url = main.slice(eq + 1);
      const [maybeName, maybeEngine] = left.includes(':') ? left.split(':', 2) : [undefined, left];
      const engine = nodeEngineSchema.parse(maybeEngine);
      const parsedUrl = new URL(url);
      const name = maybeName ?? `${engine}-${parsedUrl.port || parsedUrl.hostname}`;
      const extra: { metricsUrl?: string; contextLengths?: Record<string, number> } = {};
      for (const option of options) {
        const [key, ...rest] = option.split('=');
        const value = rest.join('=').trim();
        if (key.trim() === 'metrics') extra.metricsUrl = value;
        else if (key.trim() === 'context') {
          if (!/^[1-9]\d*$/.test(value)) throw new Error(`GENIE_NODES entry "${entry}": context must be a positive whole number of tokens`);
          extra.contextLengths = { '*': Number(value) };
        } else throw new Error(`GENIE_NODES entry "${entry}": unknown option "${key}" (known: metrics, context)`);
      }
      return nodeRefSchema.parse({ name, url: url.replace(/\/+$/, ''), engine, ...extra });
    });
}
