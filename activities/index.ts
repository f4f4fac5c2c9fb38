import type { MikroORM } from '@mikro-orm/postgresql';
import type { NodeClient } from './inference/node-client.js';
import type { AdmissionOutcome, HeldCallers } from './inference/held-caller.js';
import type { AdmitResult, GenerateInput, ServeHereInput, ServeHereResult, SettleUsageInput, StreamRecord } from '../protocol/completion-job.js';
import { fittedRequest } from '../protocol/max-tokens.js';
import { ApplicationFailure } from '@temporalio/common';
import { failures, readFailure, toFailureValue } from '../protocol/failures.js';
import { dependencyDown, isPostgresUnavailable } from '../protocol/dependency-down.js';
import { createGenerate } from './inference/generate.js';
import type { NodeDirectory } from './nodes/node-directory.js';
import type { NodeRef } from './nodes/node-list.js';
import { createSelectNode, type SelectionPolicy } from './nodes/select-node.js';
import { InFlight } from './nodes/in-flight.js';
import { markSuspect } from '../db/nodes.js';
import { createSettleUsage } from './usage/settle-usage.js';
import { createSweepReservations } from './budget/sweep-reservations.js';
import { createSweepRetention } from './retention/sweep-retention.js';
import { createAdmit, type SaturationPolicy } from './admission/admit.js';
import { createProjectJob, type ProjectJobInput } from './jobs/project-job.js';
import { createProbeFleetRounds } from './nodes/probe-rounds.js';
import { createDeliverWebhook } from './webhooks/deliver-webhook.js';
import type { WebhookUrlGuard } from './webhooks/url-guard.js';
import type { BudgetStore } from '../db/budget-store.js';
import type { GenieMetrics } from './metrics.js';
import { activityLog } from './log.js';
import { BatchStore } from '../db/batches.js';
import { PostgresFileStore, type FileStore } from '../db/file-store.js';
import { createValidateBatch } from './batches/validate-batch.js';
import { createBatchLineActivities } from './batches/batch-lines.js';
import { createBatchStateActivities } from './batches/batch-state.js';
import { taskQueues } from '../workflows/definitions.js';

export interface ActivityDeps {
  orm: MikroORM;
  directory: NodeDirectory;
  clientFor(node: NodeRef): NodeClient;
  /** API processes: the callers held here, for `generateHere` (and the API-queue `generate`). */
  callers?: HeldCallers;
  /** API processes: an async request waiting here for its admission hears it from `admit` directly. */
  onAdmission?(workflowId: string, outcome: AdmissionOutcome): void;
  /** API processes: keeps a keyed stream's deltas for replay. */
  keepStream?: (workflowId: string, record: StreamRecord) => Promise<void>;
  budgets: BudgetStore;
  probeNodes(): Promise<{ probed: number; healthy: number }>;
  /** Pause between two probe rounds of the fleet's prober. */
  probeIntervalMs?: number;
  selection?: SelectionPolicy;
  fleet: string;
  saturation?: SaturationPolicy;
  webhookGuard: WebhookUrlGuard;
  webhookTimeoutMs: number;
  metrics?: GenieMetrics;
  /** A stream caller's head waits this long at most for the node to accept the request. */
  streamHeadWaitMs?: number;
  /** Unpriced models served free on purpose (GENIE_FREE_MODELS). */
  freeModels?: string[];
  /**
   * Aborted when this process begins shutting down. The runtime cancels activities only once the grace
   * period is over; an activity that merely waits (the prober) hands over at once instead, so a worker
   * with no node call in flight exits right away rather than after the whole grace period.
   */
  stopping?: AbortSignal;
  /** Where batch inputs and outputs live (Postgres unless given). */
  files?: FileStore;
  /** This deployment's task queues (a batch line's `generate` runs on its inference queue). */
  queues?: ReturnType<typeof taskQueues>;
  /** max_tokens of a batch line that sets none (GENIE_DEFAULT_MAX_TOKENS). */
  defaultMaxTokens?: number;
  /** GENIE_ASYNC_NODE_WAIT_MS: how long a batch line's completion waits for a node that may come back. */
  asyncNodeWaitMs?: number;
  /** GENIE_BATCH_YIELD_MS: a batch line's wait while interactive traffic is being served. */
  batchYieldMs?: number;
}

/** Every activity, built from its dependencies (temporalio/samples-typescript, activities-dependency-injection). */
export function createActivities(deps: ActivityDeps) {
  const inFlight = new InFlight();
  const saturation = deps.saturation ?? { waitingThreshold: 16, admissionTimeoutMs: 2000 };
  const selectNode = createSelectNode(deps.directory, inFlight.get, Math.random, deps.selection, (names) => markSuspect(deps.orm.em.fork(), deps.fleet, names));
  const metrics = deps.metrics;
  const admit = createAdmit(selectNode, deps.budgets, saturation, () => deps.directory.refresh(), (name) => {
    const n = deps.directory.snapshot().find((x) => x.name === name);
    return (n?.load?.waiting ?? 0) >= saturation.waitingThreshold;
  }, deps.freeModels);
  const settleUsage = createSettleUsage(deps.budgets, metrics);
  const projectJob = createProjectJob(deps.orm);
  const batches = new BatchStore(deps.orm);
  const files = deps.files ?? new PostgresFileStore(deps.orm);
  const generation = createGenerate({ clientFor: deps.clientFor, inFlight, callers: deps.callers, keepStream: deps.keepStream, settle: (input) => settleUsage(input), streamHeadWaitMs: deps.streamHeadWaitMs });
  /** Admission; for an async job also its first projection, written once the 202 is on its way. */
  async function admitStep(input: Parameters<typeof admit>[0] & { projection?: ProjectJobInput }): Promise<AdmitResult> {
    let admitted: Awaited<ReturnType<typeof admit>>;
    try {
      admitted = await admit(input);
    } catch (e) {
      // A sync or stream caller held here now needs the workflow's outcome (a refusal, or a retry).
      deps.callers?.troubled(input.workflowId);
      // Postgres away: retried by the step's policy (it may be back), then the caller's 503 — never
      // the driver's message, which can carry the SQL and its parameters.
      if (isPostgresUnavailable(e)) throw failures.unavailable(dependencyDown('postgres').body);
      const refusal = readFailure(e);
      if (refusal.kind === 'genie') deps.onAdmission?.(input.workflowId, { ok: false, error: refusal.body });
      throw e;
    }
    metrics?.nodeSelections.inc({ node: admitted.node.name, model: input.request.model });
    activityLog().info('admitted', { node: admitted.node.name, reservedMicroUsd: admitted.reservedMicroUsd, placement: admitted.placement });
    // Recorded in history when this workflow task completes; if it never does, the retried task
    // admits again idempotently (the reservation is keyed by the workflow id), so a 202 sent now holds.
    deps.onAdmission?.(input.workflowId, { ok: true, budget: admitted.budget });
    // The projection only matters when the workflow cannot answer (a worker outage, or after
    // retention): in this step it costs no local activity of its own. Best-effort, as it always was:
    // the 202 is out, and failing here would admit again; settlement writes the projection anyway.
    if (input.projection) {
      await projectJob(input.projection).catch((e: Error) => activityLog().warn('first job projection not written', { error: e.message }));
    }
    return admitted;
  }
  return {
    admit: admitStep,
    /**
     * A caller-held completion's first attempt in one step, in the API holding its caller: admission,
     * then `generateHere` on the node it chose (which settles, then answers). One local activity instead
     * of two: a workflow activation and a history marker fewer on every sync and stream completion.
     */
    async serveHere({ admit: admitInput, generate: rest }: ServeHereInput): Promise<ServeHereResult> {
      if (!deps.callers?.holds(admitInput.workflowId)) return { admitted: null, notHere: true };
      let admitted: AdmitResult;
      try {
        admitted = await admitStep(admitInput);
      } catch (e) {
        // A refusal (every non-retryable failure of admission) is the answer. An error worth retrying
        // (Postgres away) is retried by `admit`'s own step, whose policy retries where this one (a node
        // call) must not.
        if (e instanceof ApplicationFailure && e.nonRetryable) throw e;
        return { admitted: null };
      }
      const input: GenerateInput = { ...rest, node: admitted.node, request: fittedRequest(admitInput.request, admitted.maxTokens), budget: admitted.budget, price: admitted.price, reservedMicroUsd: admitted.reservedMicroUsd };
      try {
        return { admitted, generated: await generation.generateHere(input) };
      } catch (e) {
        return { admitted, generated: null, failure: toFailureValue(e) };
      }
    },
    /** The workflow's failover choice (the first choice is made by `admit`). */
    async selectNode(input: Parameters<typeof selectNode>[0]) {
      const chosen = await selectNode(input);
      metrics?.nodeSelections.inc({ node: chosen.node.name, model: input.model });
      if (input.exclude.length) metrics?.failovers.inc({ model: input.model });
      if (input.exclude.length) activityLog().warn('failing over to another node', { failedNodes: input.exclude, suspect: input.suspect, node: chosen.node.name, scores: chosen.scores });
      else activityLog().warn('choosing a node again: the worker running the last attempt stopped', { node: chosen.node.name, scores: chosen.scores });
      return chosen;
    },
    ...generation,
    probeFleetRounds: createProbeFleetRounds(deps.probeNodes, deps.probeIntervalMs ?? 5000, (e) => activityLog().warn('probe round failed', { error: (e as Error).message }), deps.stopping),
    /** Settlement, then (an async job's end) its projection: both idempotent, so retried together. */
    async settleUsage(input: SettleUsageInput & { projection?: ProjectJobInput }) {
      const settled = await settleUsage(input);
      if (input.projection) await projectJob(input.projection);
      return settled;
    },
    projectJob,
    deliverWebhook: createDeliverWebhook({ orm: deps.orm, guard: deps.webhookGuard, timeoutMs: deps.webhookTimeoutMs, metrics, project: projectJob }),
    /** The budget sweeper's: releases reservations whose workflow closed without settling. */
    sweepReservations: createSweepReservations({ orm: deps.orm, metrics }),
    /** The retention sweeper's: deletes webhook secrets, stream records and expired Idempotency-Keys past their time. */
    sweepRetention: createSweepRetention({ orm: deps.orm, metrics }),
    // The Batch API's: a batch's validation and end (regular activities on the workers' queue), its
    // lines' load and record and its state changes (local activities of the batch workflows).
    validateBatch: createValidateBatch({ batches, files }),
    ...createBatchLineActivities({ orm: deps.orm, batches, queues: deps.queues ?? taskQueues(), defaultMaxTokens: deps.defaultMaxTokens ?? 4096, asyncNodeWaitMs: deps.asyncNodeWaitMs ?? 600_000, yieldMs: deps.batchYieldMs ?? 0, fleet: deps.fleet, metrics }),
    ...createBatchStateActivities({ batches, files }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
