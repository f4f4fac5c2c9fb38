import type { MikroORM } from '@mikro-orm/postgresql';
import type { NodeClient } from './inference/node-client.js';
import type { Deliveries } from './inference/deliveries.js';
import { createGenerate } from './inference/generate.js';
import type { NodeDirectory } from './nodes/node-directory.js';
import type { NodeRef } from './nodes/node-list.js';
import { createSelectNode, type SelectionPolicy } from './nodes/select-node.js';
import { InFlight } from './nodes/in-flight.js';
import { markSuspect } from '../db/nodes.js';
import { createSettleUsage } from './usage/settle-usage.js';
import { createAdmit, type SaturationPolicy } from './admission/admit.js';
import { createProjectJob } from './jobs/project-job.js';
import { createDeliverWebhook } from './webhooks/deliver-webhook.js';
import type { WebhookUrlGuard } from './webhooks/url-guard.js';
import type { BudgetStore } from './budget/budget-store.js';

export interface ActivityDeps {
  orm: MikroORM;
  directory: NodeDirectory;
  clientFor(node: NodeRef): NodeClient;
  deliveries?: Deliveries;
  budgets: BudgetStore;
  probeNodes(): Promise<{ probed: number; healthy: number }>;
  selection?: SelectionPolicy;
  fleet: string;
  saturation?: SaturationPolicy;
  webhookGuard: WebhookUrlGuard;
  webhookTimeoutMs: number;
}

/** Every activity, built from its dependencies (temporalio/samples-typescript, activities-dependency-injection). */
export function createActivities(deps: ActivityDeps) {
  const inFlight = new InFlight();
  const saturation = deps.saturation ?? { waitingThreshold: 16, admissionTimeoutMs: 2000 };
  const selectNode = createSelectNode(deps.directory, inFlight.get, Math.random, deps.selection, (names) => markSuspect(deps.orm.em.fork(), deps.fleet, names));
  return {
    admit: createAdmit(selectNode, deps.budgets, saturation, () => deps.directory.refresh(), (name) => {
      const n = deps.directory.snapshot().find((x) => x.name === name);
      return (n?.load?.waiting ?? 0) >= saturation.waitingThreshold;
    }),
    selectNode,
    generate: createGenerate({ clientFor: deps.clientFor, deliveries: deps.deliveries, inFlight }),
    probeNodes: deps.probeNodes,
    settleUsage: createSettleUsage(deps.orm, deps.budgets),
    projectJob: createProjectJob(deps.orm),
    deliverWebhook: createDeliverWebhook({ orm: deps.orm, guard: deps.webhookGuard, timeoutMs: deps.webhookTimeoutMs }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
