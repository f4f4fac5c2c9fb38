import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { listNodes, recordProbe } from '../../db/nodes.js';
import type { NodeClient } from '../inference/node-client.js';
import { UpstreamError } from '../inference/upstream-error.js';
import type { NodeModel, NodeRef } from './node-list.js';
import { refOf } from './node-ref.js';

export interface ProbeDeps {
  orm: MikroORM;
  fleet: string;
  clientFor(node: NodeRef): NodeClient;
  /** How long the one-token probe completion may take before the node counts as hung. */
  probeTimeoutMs: number;
  log: Logger;
}

/**
 * Probes every node of the fleet and records the verdict in the registry: liveness, served models,
 * load metrics — and one generated token, because `/health` alone is not trusted (vLLM's answers 200
 * while its engine hangs). Any HTTP answer to the token proves the engine responsive (a model that
 * fails to load is the model's problem, not the node's); a timeout or no answer marks the node down.
 */
export function createProbeNodes(deps: ProbeDeps) {
  return async function probeNodes(): Promise<{ probed: number; healthy: number }> {
    const nodes = await listNodes(deps.orm.em.fork(), deps.fleet);
    const verdicts = await Promise.all(
      nodes.map(async (n) => {
        const ref = refOf(n);
        const client = deps.clientFor(ref);
        const started = Date.now();
        let healthy = false;
        let models: Record<string, NodeModel> | null = null;
        let load = null;
        let error: string | null = null;
        let stalledSince: number | null = null;
        try {
          if (!(await client.health(ref))) throw new Error('health endpoint did not answer 200');
          models = await client.models(ref, undefined, n.modelInfo);
          load = await client.load(ref).catch(() => null);
          const first = Object.keys(models)[0];
          if (first !== undefined) {
            try {
              const ping = { model: first, messages: [{ role: 'user' as const, content: 'ping' }], max_tokens: 1 };
              await client.complete({ ...ref, model: models[first] }, ping, AbortSignal.timeout(deps.probeTimeoutMs));
            } catch (e) {
              // No answer in time. A node whose finished-request counter moved since the last probe is
              // busy, not hung (its queue delayed the ping); one that has made no progress for three
              // probe timeouts in a row is hung.
              const answered = e instanceof UpstreamError && e.status !== null;
              const progressed = load?.finished != null && n.load?.finished != null && load.finished > n.load.finished;
              if (!answered && !progressed) {
                stalledSince = Number(n.lastProbe?.stalledSince ?? started);
                if (started - stalledSince >= 3 * deps.probeTimeoutMs) throw new Error(`probe completion got no answer and no request finished for ${started - stalledSince} ms`);
              }
            }
          }
          healthy = true;
        } catch (e) {
          error = (e as Error).message;
        }
        await recordProbe(deps.orm.em.fork(), n.id, { healthy, models, load, detail: { healthy, error, stalledSince, ms: Date.now() - started } });
        if (healthy !== n.healthy) deps.log.info({ node: n.name, healthy, error }, 'node health changed');
        return healthy;
      }),
    );
    return { probed: nodes.length, healthy: verdicts.filter(Boolean).length };
  };
}
