import { Context } from '@temporalio/activity';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { openReservations, releaseReservation, type OpenReservation } from '../../db/budget-sweep.js';
import { statesOf, workflowStateFrom, type WorkflowStateOf } from '../workflow-state.js';
import type { GenieMetrics } from '../metrics.js';
import { activityLog } from '../log.js';

// Leaked reservations: a completion's workflow settles its reservation in a non-cancellable block that
// retries until Postgres answers, so a reservation stays open only while its workflow runs — unless the
// workflow was closed from outside (terminated, timed out) or its admission reserved
// and then never heard the answer. The sweeper finds those and releases them; `genie budget-check`
// reports them.

export interface LeakedReservation extends OpenReservation {
  /** How its workflow ended (`TERMINATED`, `TIMED_OUT`, …), or `NOT_FOUND`. */
  workflowStatus: string;
}

export interface SweepInput {
  /** Reservations younger than this are left alone (GENIE_SWEEP_GRACE_MS). */
  graceMs: number;
  /** At most this many open reservations looked at per sweep (the next sweep takes the rest). */
  limit?: number;
}

export interface SweepResult {
  /** Open reservations past the grace period that were looked at. */
  examined: number;
  /** Of those, the ones whose workflow still runs (left alone: it settles them itself). */
  running: number;
  /** Released here (booked 0 spend); a reservation settled meanwhile by someone else is not counted. */
  released: number;
  releasedMicroUsd: number;
}

/** Open reservations at least `olderThanMs` old whose run is not running. */
export async function findLeakedReservations(
  em: EntityManager,
  stateOf: WorkflowStateOf,
  opts: { olderThanMs: number; limit: number },
): Promise<{ examined: number; running: number; leaked: LeakedReservation[] }> {
  const open = await openReservations(em, opts);
  const leaked: LeakedReservation[] = [];
  let running = 0;
  (await statesOf(open, stateOf)).forEach((s, j) => {
    if (s.state === 'running') running++;
    else leaked.push({ ...open[j], workflowStatus: s.state === 'closed' ? s.status : 'NOT_FOUND' });
  });
  return { examined: open.length, running, leaked };
}

export interface SweepDeps {
  orm: MikroORM;
  metrics?: GenieMetrics;
  /** Defaults to the running activity's Temporal client (the worker's connection and namespace). */
  stateOf?: WorkflowStateOf;
}

export function createSweepReservations(deps: SweepDeps) {
  /**
   * Releases every open reservation past the grace period whose workflow is no longer running, booking
   * no spend. Idempotent (genie_settle is): a retried or concurrent sweep releases nothing twice, and a
   * workflow that settled between the look-up and the release keeps its own settlement. Temporal owns
   * the retries; what one sweep leaves, the next one takes.
   */
  return async function sweepReservations(input: SweepInput): Promise<SweepResult> {
    const stateOf = deps.stateOf ?? workflowStateFrom(Context.current().client);
    const em = deps.orm.em.fork();
    const { examined, running, leaked } = await findLeakedReservations(em, stateOf, { olderThanMs: input.graceMs, limit: input.limit ?? 1000 });
    let released = 0;
    let releasedMicroUsd = 0;
    for (const r of leaked) {
      if (!(await releaseReservation(em, r))) continue;
      released++;
      releasedMicroUsd += r.reservedMicroUsd;
      // Counted by the sweep that released it: a retried or concurrent one books and counts nothing twice.
      deps.metrics?.budgetSweptReservations.inc({ workflow_status: r.workflowStatus });
      deps.metrics?.budgetSweptMicroUsd.inc({ workflow_status: r.workflowStatus }, r.reservedMicroUsd);
      activityLog().warn('released a leaked reservation', {
        releasedWorkflowId: r.workflowId,
        releasedRunId: r.runId,
        workflowStatus: r.workflowStatus,
        reservedMicroUsd: r.reservedMicroUsd,
        reservedAt: r.reservedAt.toISOString(),
      });
    }
    if (examined > 0) activityLog().info('budget sweep', { examined, running, released, releasedMicroUsd });
    return { examined, running, released, releasedMicroUsd };
  };
}
