import { performance } from 'node:perf_hooks';

/**
 * A bounded cache whose entries expire: at most `max` entries, the least recently used evicted first,
 * each trusted for the TTL it was stored with, counted from then (a read does not extend it). A Map
 * iterates in insertion order, so re-inserting on every read keeps the least recently used first.
 * The clock is monotonic: a wall-clock step back must not extend the trust in an entry.
 */
export class TtlLru<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    readonly max: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(max >= 1)) throw new RangeError('max must be at least 1');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.until <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.max) break;
      this.entries.delete(oldest);
    }
  }
}
