import { MetricsBuffer, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { PinoTemporalLogger } from './temporal-logger.js';
import { bridgeTemporalMetrics } from './temporal-metrics.js';

/**
 * Installs the process-wide Temporal runtime before any connection exists: SDK, workflow and activity
 * logs go through pino; Core's metrics go into this process's Prometheus registry.
 */
export function installTemporalRuntime(opts: { log: Logger; registry: Registry; shutdownSignals: NodeJS.Signals[] }) {
  const buffer = new MetricsBuffer({ maxBufferSize: 50_000, useSecondsForDurations: true });
  Runtime.install({
    logger: new PinoTemporalLogger(opts.log.child({ component: `${opts.log.bindings().component ?? 'genie'}` })),
    shutdownSignals: opts.shutdownSignals,
    telemetryOptions: { metrics: { buffer } },
  });
  return bridgeTemporalMetrics(buffer, opts.registry);
}
