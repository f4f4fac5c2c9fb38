import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MetricsBuffer } from '@temporalio/worker';

type Family = Counter<string> | Gauge<string> | Histogram<string>;

/**
 * Folds the Temporal Core runtime's metrics (worker task slots, poll and schedule-to-start latencies,
 * sticky cache, request failures, …) into this process's prom-client registry, so one /metrics per
 * process serves both Genie's and Temporal's numbers — no second exporter port per replica.
 *
 * Core's updates arrive buffered: counters as deltas, gauges and histograms as values. They are drained
 * on every scrape and on a timer so the buffer never overflows between scrapes.
 */
export function bridgeTemporalMetrics(buffer: MetricsBuffer, registry: Registry, drainEveryMs = 2000): { drain(): void; stop(): void } {
  const families = new Map<string, { family: Family; labels: string[] }>();

  const familyFor = (name: string, kind: string, description: string | undefined, keys: string[]) => {
    let entry = families.get(name);
    if (!entry) {
      const labels = [...keys].sort();
      const opts = { name: name.startsWith('temporal_') ? name : `temporal_${name}`, help: description || `Temporal SDK metric ${name}`, labelNames: labels, registers: [registry] };
      // A name Genie already registered (should never happen) is skipped rather than crashing the process.
      if (registry.getSingleMetric(opts.name)) return null;
      const family = kind === 'counter' ? new Counter(opts) : kind === 'histogram' ? new Histogram({ ...opts, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600] }) : new Gauge(opts);
      entry = { family, labels };
      families.set(name, entry);
    }
    return entry;
  };

  const drain = () => {
    for (const update of buffer.retrieveUpdates()) {
      const { metric, value, attributes } = update;
      const entry = familyFor(metric.name, metric.kind, metric.description, Object.keys(attributes));
      if (!entry) continue;
      // The label set is fixed when a family is first seen: later extra attributes are dropped, missing ones left empty.
      const labels = Object.fromEntries(entry.labels.map((k) => [k, String((attributes as Record<string, unknown>)[k] ?? '')]));
      if (entry.family instanceof Counter) entry.family.inc(labels, value);
      else if (entry.family instanceof Histogram) entry.family.observe(labels, value);
      else if (metric.kind === 'up-down-counter') entry.family.inc(labels, value);
      else entry.family.set(labels, value);
    }
  };
  const timer = setInterval(drain, drainEveryMs).unref();
  return { drain, stop: () => clearInterval(timer) };
}
