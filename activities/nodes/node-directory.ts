import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { listNodes } from '../../db/nodes.js';
import type { NodeRecord } from '../../protocol/node.js';

/**
 * The fleet as the registry last said, re-read in the background so selection never waits on
 * Postgres. The registry is written by the probe schedule (and the admin API); every process reads it.
 */
export class NodeDirectory {
  private nodes: NodeRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly fleet: string,
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

  /** Re-reads the registry (concurrent callers share one read). */
  refresh(): Promise<void> {
    this.inflight ??= listNodes(this.orm.em.fork(), this.fleet)
      .then((nodes) => {
        this.nodes = nodes;
      })
      .catch((e) => this.log.warn({ err: (e as Error).message }, 'reading the node registry failed; keeping the last view'))
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  snapshot(): NodeRecord[] {
    return this.nodes;
  }
}
