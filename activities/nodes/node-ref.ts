import type { NodeRecord } from '../../protocol/node.js';
import type { NodeRef } from './node-list.js';

/** How to call a registered node: what a probe or a completion needs of its registry record. */
export function refOf(n: NodeRecord, model?: string): NodeRef {
  const info = model === undefined ? undefined : n.modelInfo[model];
  return {
    name: n.name,
    url: n.url,
    engine: n.engine,
    ...(n.metricsUrl ? { metricsUrl: n.metricsUrl } : {}),
    ...(Object.keys(n.modelNames).length ? { modelNames: n.modelNames } : {}),
    ...(info ? { model: info } : {}),
  };
}
