import type { NodeRecord } from '../../protocol/node.js';
import type { NodeModel, NodeRef } from './node-list.js';

/** How to call a registered node: what a probe or a completion needs of its registry record. */
export function refOf(n: NodeRecord, model?: string): NodeRef {
  const info = model === undefined ? undefined : withContext(n.modelInfo[model], n.contextLengths[model] ?? n.contextLengths['*']);
  return {
    name: n.name,
    url: n.url,
    engine: n.engine,
    ...(n.metricsUrl ? { metricsUrl: n.metricsUrl } : {}),
    ...(Object.keys(n.modelNames).length ? { modelNames: n.modelNames } : {}),
    ...(info ? { model: info } : {}),
  };
}

/** The context length to fit to: the smaller of what the engine reported and what the operator configured. */
function withContext(info: NodeModel | undefined, configured: number | undefined): NodeModel | undefined {
  if (configured === undefined) return info;
  const learned = info?.contextLength;
  return { ...info, contextLength: learned === undefined ? configured : Math.min(learned, configured) };
}
