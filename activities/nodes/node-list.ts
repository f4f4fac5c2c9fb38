import { z } from 'zod';

export const nodeEngineSchema = z.enum(['vllm', 'triton']);

/** A GPU node as the workflow sees it: enough to call it, nothing that changes per probe. */
export const nodeRefSchema = z.object({
  name: z.string(),
  url: z.url(),
  engine: nodeEngineSchema,
});
export type NodeRef = z.infer<typeof nodeRefSchema>;

/**
 * `GENIE_NODES` (DESIGN §3a): comma-separated `engine=url` or `name:engine=url` entries, e.g.
 * `vllm=http://127.0.0.1:9101,triton=http://127.0.0.1:9102`. Unnamed nodes are named after engine+port.
 */
export function parseNodeList(spec: string): NodeRef[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const eq = entry.indexOf('=');
      if (eq < 0) throw new Error(`GENIE_NODES entry "${entry}" is not engine=url`);
      const left = entry.slice(0, eq);
      const url = entry.slice(eq + 1);
      const [maybeName, maybeEngine] = left.includes(':') ? left.split(':', 2) : [undefined, left];
      const engine = nodeEngineSchema.parse(maybeEngine);
      const parsedUrl = new URL(url);
      const name = maybeName ?? `${engine}-${parsedUrl.port || parsedUrl.hostname}`;
      return nodeRefSchema.parse({ name, url: url.replace(/\/+$/, ''), engine });
    });
}
