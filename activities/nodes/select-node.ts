import { ApplicationFailure } from '@temporalio/common';
import { GenieError } from '../../protocol/errors.js';
import { APPLICATION_FAILURE_TYPE } from '../../protocol/errors.js';
import type { NodeRef } from './node-list.js';
import type { NodeDirectory } from './node-directory.js';

export interface SelectNodeInput {
  model: string;
  /** Nodes that already failed this completion before its first token. */
  exclude: string[];
}
export interface SelectNodeResult {
  node: NodeRef;
  candidates: number;
}

export function createSelectNode(directory: NodeDirectory) {
  // A healthy node serving the model; among several, the least-used by this process (round robin
  // until load-aware scoring arrives with the fleet work).
  let turn = 0;
  return async function selectNode({ model, exclude }: SelectNodeInput): Promise<SelectNodeResult> {
    let view = directory.snapshot();
    if (!view.some((s) => s.models.includes(model))) {
      await directory.refresh(); // a node that just came up must not look like an unknown model
      view = directory.snapshot();
    }
    const serving = view.filter((s) => s.models.includes(model));
    if (serving.length === 0) {
      throw ApplicationFailure.nonRetryable(`model not found: ${model}`, APPLICATION_FAILURE_TYPE, GenieError.modelNotFound(model).body);
    }
    const candidates = serving.filter((s) => s.healthy && !exclude.includes(s.node.name));
    if (candidates.length === 0) {
      const body = GenieError.unavailable(`no healthy node can serve ${model} right now`).body;
      throw ApplicationFailure.nonRetryable(body.message, APPLICATION_FAILURE_TYPE, body);
    }
    const chosen = candidates[turn++ % candidates.length];
    return { node: chosen.node, candidates: candidates.length };
  };
}
