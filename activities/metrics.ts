import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { NodeRecord } from '../protocol/node.js';

// Genie's Prometheus metrics, one registry per process. Every process (API replicas, workers) serves
// its own /metrics: Prometheus scrapes each, and sums across replicas at query time — except the node
// gauges, which every process exports from the same registry view (aggregate them with max by (node)). Each event is
// counted where it is decided — requests and time to first token at the API edge, tokens, selections,
// failovers and webhooks in the activities — so no number is counted twice across processes.

// Up to the node timeout's order (a long generation runs minutes).
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export function createMetrics(opts: { nodes?: () => NodeRecord[]; heldCallers?: () => number; sseBufferedBytes?: () => number; defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const metrics = {
    registry,
    requests: new Counter({
      name: 'genie_requests_total',
      help: 'Chat completion requests answered by this API process, by mode, model and HTTP status.',
      labelNames: ['mode', 'model', 'status'] as const,
      registers,
    }),
    requestDuration: new Histogram({
      name: 'genie_request_duration_seconds',
      help: 'Time from request to the end of the answer (a stream: its last byte; async: the 202).',
      labelNames: ['mode', 'model', 'status'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    timeToFirstToken: new Histogram({
      name: 'genie_time_to_first_token_seconds',
      help: 'Stream mode: time from request to the first content or tool-call delta written to the caller.',
      labelNames: ['model'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    completions: new Counter({
      name: 'genie_completions_total',
      help: 'Completion workflows settled, by mode, model and outcome (completed, failed, cancelled).',
      labelNames: ['mode', 'model', 'outcome'] as const,
      registers,
    }),
    tokens: new Counter({
      name: 'genie_tokens_total',
      help: 'Tokens settled (booked once per completion), by model and direction (in = prompt, out = completion).',
      labelNames: ['model', 'direction'] as const,
      registers,
    }),
    costMicroUsd: new Counter({
      name: 'genie_cost_micro_usd_total',
      help: 'Settled cost in micro-USD, by model.',
      labelNames: ['model'] as const,
      registers,
    }),
    budgetOvershoots: new Counter({
      name: 'genie_budget_overshoot_micro_usd_total',
      help: 'Settled cost above what admission reserved (a node that reported more tokens than it was allowed), by model and node. Booked all the same; should stay 0.',
      labelNames: ['model', 'node'] as const,
      registers,
    }),
    // The budget sweeper (activities/budget/sweep-reservations.ts): reservations of workflows that closed
    // without settling, released with no spend booked. By how the workflow ended (TERMINATED, NOT_FOUND, …).
    budgetSweptReservations: new Counter({
      name: 'genie_budget_swept_reservations_total',
      help: 'Leaked reservations (their workflow closed without settling) released by the sweeper, by the workflow status seen.',
      labelNames: ['workflow_status'] as const,
      registers,
    }),
    budgetSweptMicroUsd: new Counter({
      name: 'genie_budget_swept_micro_usd_total',
      help: 'Micro-USD released by the sweeper from leaked reservations (the amount each held in its caps), by the workflow status seen.',
      labelNames: ['workflow_status'] as const,
      registers,
    }),
    // The retention sweeper (activities/retention/sweep-retention.ts).
    retentionDeletedRows: new Counter({
      name: 'genie_retention_deleted_rows_total',
      help: 'Rows the retention sweeper deleted, by table (webhook_secrets, stream_results, idempotency_keys, files, batch_lines).',
      labelNames: ['table'] as const,
      registers,
    }),
    budgetRefusals: new Counter({
      name: 'genie_budget_refusals_total',
      help: 'Requests refused with 402 by a budget cap, by the layer and window that tripped.',
      labelNames: ['layer', 'window'] as const,
      registers,
    }),
    webhookAttempts: new Counter({
      name: 'genie_webhook_attempts_total',
      help: 'Webhook delivery attempts, by outcome (delivered, rejected = non-2xx answer, error = no answer, gone = 410).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    nodeSelections: new Counter({
      name: 'genie_node_selections_total',
      help: 'Nodes chosen for a completion, by node and model (first choice and failover choices).',
      labelNames: ['node', 'model'] as const,
      registers,
    }),
    eagerStarts: new Counter({
      name: 'genie_workflow_starts_total',
      help: 'Completion workflows this API started, by mode and whether the server handed the first workflow task straight back (eager="true"); eager="false" means a free workflow-task slot was missing or the server declined, and the completion took the slower dispatched path.',
      labelNames: ['mode', 'eager'] as const,
      registers,
    }),
    outcomeWaits: new Counter({
      name: 'genie_workflow_outcome_waits_total',
      help: "Caller-held (sync, stream) completions whose API waited on the workflow's outcome from the Temporal server, by mode and why: not_eager (its first task ran elsewhere), troubled (a step here did not succeed), slow (still running after the wait's delay), duplicate (a keyed retry). A completion answered here needs no such wait.",
      labelNames: ['mode', 'reason'] as const,
      registers,
    }),
    batchLines: new Counter({
      name: 'genie_batch_lines_total',
      help: 'Batch lines recorded (each once, when its answer is recorded), by outcome: completed, budget_refused (402), failed (any other error).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    batchLineWaits: new Counter({
      name: 'genie_batch_line_waits_total',
      help: "Batch line runs that waited before their completion, by why: interactive (sync or stream callers were being served on the fleet, so the line waited GENIE_BATCH_YIELD_MS first) and budget_reset (the line's previous run was refused by a budget cap and waited for the cap's window to reset; counted as the run after the wait starts).",
      labelNames: ['reason'] as const,
      registers,
    }),
    failovers: new Counter({
      name: 'genie_failovers_total',
      help: 'Completions moved to another node after one failed before the first token, by model.',
      labelNames: ['model'] as const,
      registers,
    }),
  };

  // In-process state of an API, read at scrape time: what it holds for callers must return to zero when they are gone.
  const readAtScrape = (name: string, help: string, read: (() => number) | undefined) => {
    if (!read) return;
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  readAtScrape('genie_held_callers', 'Requests this API process holds a completion for (sync bodies, streams, async admissions awaited).', opts.heldCallers);
  readAtScrape(
    'genie_sse_buffered_bytes',
    "Bytes of SSE the streams this API process holds have written and their callers' sockets not yet taken (bounded by back-pressure: a slow reader pauses its node read).",
    opts.sseBufferedBytes,
  );

  // Node health and load as the registry last said (every process reads it): read at scrape time.
  if (opts.nodes) {
    const nodes = opts.nodes;
    new Gauge({
      name: 'genie_node_up',
      help: 'Whether the node passed its last probe (1) or not (0); state is active, draining or down.',
      labelNames: ['node', 'engine', 'state'] as const,
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) this.set({ node: n.name, engine: n.engine, state: n.state }, n.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'genie_node_load',
      help: "The node's own load metrics from its last probe: running and waiting requests, KV-cache usage (0–1).",
      labelNames: ['node', 'kind'] as const,
      registers,
      collect() {
        this.reset();
        for (const n of nodes()) {
          if (!n.load) continue;
          this.set({ node: n.name, kind: 'running' }, n.load.running ?? 0);
          this.set({ node: n.name, kind: 'waiting' }, n.load.waiting ?? 0);
          if (n.load.kvCacheUsage !== null && n.load.kvCacheUsage !== undefined) this.set({ node: n.name, kind: 'kv_cache_usage' }, n.load.kvCacheUsage);
        }
      },
    });
  }
  return metrics;
}

export type GenieMetrics = ReturnType<typeof createMetrics>;
