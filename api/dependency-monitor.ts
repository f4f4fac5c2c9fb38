import { unreachableDependency, type Dependency } from '../protocol/dependency-down.js';

export type DependencyState = Record<Dependency, boolean>;

/**
 * What this API process knows of Postgres and Temporal: checked every `intervalMs`, and marked down at
 * once when a request meets one unreachable. While one is down, new completions are refused with a
 * fast 503 instead of waiting out retries; the next check that reaches it brings it back.
 *
 * Only "unreachable" counts as down (connection refused or reset, gRPC UNAVAILABLE): a check that is
 * merely slow — a busy machine, a loaded database — leaves the verdict as it was, so an overloaded
 * Genie answers late, never with a false 503.
 */
export class DependencyMonitor {
  private readonly state: DependencyState = { postgres: true, temporal: true };
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly probes: Record<Dependency, () => Promise<unknown>>,
    private readonly opts: { intervalMs: number; timeoutMs: number },
  ) {}

  start(): void {
    const tick = () => {
      this.timer = setTimeout(() => void this.check().finally(tick), this.opts.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  isUp(d: Dependency): boolean {
    return this.state[d];
  }

  /** The first dependency known to be down, or null. */
  down(): Dependency | null {
    return !this.state.postgres ? 'postgres' : !this.state.temporal ? 'temporal' : null;
  }

  /** A request met this error: if it says a dependency is unreachable, that one is down from now on. */
  observe(e: unknown): Dependency | null {
    const d = unreachableDependency(e);
    if (d) this.state[d] = false;
    return d;
  }

  /**
   * Checks both now. `answered` is whether each answered within the timeout (what /healthz reports);
   * the monitor's own verdict changes only on an answer (up) or an unreachable error (down).
   */
  async check(): Promise<DependencyState> {
    const one = async (d: Dependency): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.opts.timeoutMs)));
      try {
        const r = await Promise.race([this.probes[d]().then(() => 'ok' as const), timeout]);
        if (r === 'ok') this.state[d] = true;
        return r === 'ok';
      } catch (e) {
        this.observe(e);
        return false;
      } finally {
        clearTimeout(timer);
      }
    };
    const [postgres, temporal] = await Promise.all([one('postgres'), one('temporal')]);
    return { postgres, temporal };
  }
}
