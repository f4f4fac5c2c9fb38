import type { MikroORM } from '@mikro-orm/postgresql';
import type { LineOutcome, LineResponse } from '../../protocol/batch.js';
import type { CompletionJobInput } from '../../protocol/completion-job.js';
import type { Principal } from '../../protocol/principal.js';
import { completionInput } from '../../protocol/completion-input.js';
import type { BatchStore } from '../../db/batches.js';
import { interactiveRecently } from '../../db/interactive-activity.js';
import { listPersonas } from '../../db/personas.js';
import type { taskQueues } from '../../workflows/definitions.js';
import type { GenieMetrics } from '../metrics.js';

export interface BatchLineDeps {
  orm: MikroORM;
  batches: BatchStore;
  /** The task queues of this deployment: a line's `generate` runs on the inference queue, as an async job's. */
  queues: ReturnType<typeof taskQueues>;
  defaultMaxTokens: number;
  /** GENIE_ASYNC_NODE_WAIT_MS: a line's completion waits this long for a node that may come back. */
  asyncNodeWaitMs: number;
  /** How long a line waits before its completion while interactive traffic is being served (0: never). */
  yieldMs: number;
  /** The fleet whose interactive traffic the lines yield to. */
  fleet: string;
  metrics?: GenieMetrics;
}

/** The two steps a line workflow adds around the `chatCompletion` it runs: load its request, record its result. */
export function createBatchLineActivities(deps: BatchLineDeps) {
  return {
    /**
     * The line's completion input, built exactly as POST /v1/chat/completions builds an async job's
     * (personas resolved now, when the line starts). Read from Postgres, so the batch workflow's own
     * history carries line numbers only. `yieldMs` is how long the line waits first: interactive
     * traffic seen in the last seconds goes ahead of it (decided here, so a replay waits the same).
     */
    async loadBatchLine(input: { batchId: string; line: number; jobId: string; principal: Principal; deferrals?: number }): Promise<{ customId: string; job: CompletionJobInput; yieldMs: number; batchCancelling: boolean }> {
      const [line, interactive] = await Promise.all([deps.batches.line(input.batchId, input.line), deps.yieldMs > 0 ? interactiveRecently(deps.orm, deps.fleet) : false]);
      const model = (await listPersonas(deps.orm.em.fork()))[line.body.model] ?? line.body.model;
      const settings = { queues: deps.queues, apiQueue: deps.queues.inference, webhookScheduleMs: [], defaultMaxTokens: deps.defaultMaxTokens, asyncNodeWaitMs: deps.asyncNodeWaitMs };
      const job = completionInput({ jobId: input.jobId, principal: input.principal, request: line.body, idempotency: null }, 'async', model, settings);
      // Counted once per run of the line, as it succeeds (a replay does not run a recorded local activity
      // again): a run after a cap's reset is one the workflow continued as new with one more deferral.
      if (interactive) deps.metrics?.batchLineWaits.inc({ reason: 'interactive' });
      if ((input.deferrals ?? 0) > 0) deps.metrics?.batchLineWaits.inc({ reason: 'budget_reset' });
      // A run that begins after the batch's cancel (its start was in flight when the cancel's signal went
      // out, or it continued as new across it) never got that signal: it learns of the cancel here.
      const batchCancelling = line.batchStatus === 'cancelling' || line.batchStatus === 'cancelled';
      return { customId: line.customId, job, yieldMs: interactive ? deps.yieldMs : 0, batchCancelling };
    },

    /** Idempotent: the first record of a line counts it; a retried or replayed one changes nothing. */
    async recordBatchLine(input: { batchId: string; line: number; outcome: LineOutcome; response: LineResponse }): Promise<{ recorded: boolean }> {
      const recorded = await deps.batches.recordLine(input.batchId, input.line, input.outcome, input.response);
      // Counted where the line's result is recorded, once per line across all processes.
      if (recorded) deps.metrics?.batchLines.inc({ outcome: input.outcome === 'completed' ? 'completed' : input.response.status_code === 402 ? 'budget_refused' : 'failed' });
      return { recorded };
    },
  };
}
