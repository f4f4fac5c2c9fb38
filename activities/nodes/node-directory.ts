import type { Logger } from 'pino';
import type { NodeClient } from '../inference/node-client.js';
import type { NodeRef } from './node-list.js';

export interface NodeStatus {
  node: NodeRef;
  healthy: boolean;
  /** Last models the node reported; kept while it is down so "known but unavailable" is not "unknown". */
  models: string[];
  probedAt: number;
  error: string | null;
}

/**
 * The fleet as this process last saw it: each configured node's health and served models, re-probed
 * in the background so selection never waits on a probe. (The Postgres registry and the scheduled
 * probe workflow replace the static list when the fleet work lands.)
 */
export class NodeDirectory {
  private readonly status = new Map<string, NodeStatus>();
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly nodes: NodeRef[],
    private readonly clientFor: (node: NodeRef) => NodeClient,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    this.timer ??= setInterval(() => void this.refresh(), this.intervalMs).unref();
    return this.refresh();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Probes every node once (concurrent probes share one round). */
  refresh(): Promise<void> {
    this.inflight ??= Promise.all(this.nodes.map((n) => this.probe(n))).then(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  snapshot(): NodeStatus[] {
    return this.nodes.map(
      (n) => this.status.get(n.name) ?? { node: n, healthy: false, models: [], probedAt: 0, error: 'not probed yet' },
    );
  }

  private async probe(node: NodeRef): Promise<void> {
    const client = this.clientFor(node);
    const previous = this.status.get(node.name);
    try {
      const healthy = await client.health(node);
      const models = healthy ? await client.models(node) : (previous?.models ?? []);
      this.status.set(node.name, { node, healthy, models, probedAt: Date.now(), error: healthy ? null : 'health probe failed' });
      if (previous && previous.healthy !== healthy) this.log.info({ node: node.name, healthy }, 'node health changed');
    } catch (e) {
      this.status.set(node.name, { node, healthy: false, models: previous?.models ?? [], probedAt: Date.now(), error: (e as Error).message });
      if (!previous || previous.healthy) this.log.warn({ node: node.name, err: (e as Error).message }, 'node probe failed');
    }
  }
}
