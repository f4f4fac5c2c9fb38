import type { MikroORM } from '@mikro-orm/postgresql';
import type { NodeClient } from './inference/node-client.js';
import type { Deliveries } from './inference/deliveries.js';
import { createGenerate } from './inference/generate.js';
import type { NodeDirectory } from './nodes/node-directory.js';
import type { NodeRef } from './nodes/node-list.js';
import { createSelectNode } from './nodes/select-node.js';
import { createSettleUsage } from './usage/settle-usage.js';

export interface ActivityDeps {
  orm: MikroORM;
  directory: NodeDirectory;
  clientFor(node: NodeRef): NodeClient;
  deliveries?: Deliveries;
}

/** Every activity, built from its dependencies (temporalio/samples-typescript, activities-dependency-injection). */
export function createActivities(deps: ActivityDeps) {
  return {
    selectNode: createSelectNode(deps.directory),
    generate: createGenerate({ clientFor: deps.clientFor, deliveries: deps.deliveries }),
    settleUsage: createSettleUsage(deps.orm),
  };
}

export type Activities = ReturnType<typeof createActivities>;
