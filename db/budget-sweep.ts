import type { EntityManager } from '@mikro-orm/postgresql';
import type { CompletionRun } from '../protocol/budget.js';

// The ledger's open reservations, for the sweeper (activities/budget/sweep-reservations.ts) and
// `genie budget-check`. A reservation is open while its run has 'reserve' ledger rows and no 'settle'
// row: genie_reserve writes all of a run's reserve rows in one transaction and genie_settle all of its
// settle rows in one, so a run is either settled in every cap or in none.

export interface OpenReservation extends CompletionRun {
  /** What the reservation holds in each of its caps (genie_reserve reserves one amount in all of them). */
  reservedMicroUsd: number;
  reservedAt: Date;
}

/**
 * Open reservations made at least `olderThanMs` ago (by Postgres's clock, which wrote them), oldest
 * first; `workflowIds` narrows the search to those workflows.
 */
export async function openReservations(em: EntityManager, opts: { olderThanMs: number; limit: number; workflowIds?: string[] }): Promise<OpenReservation[]> {
  const ids = opts.workflowIds ? JSON.stringify(opts.workflowIds) : null;
  const rows = await em.getConnection().execute<Array<{ workflow_id: string; run_id: string; reserved: string; reserved_at: Date | string }>>(
    `select r.workflow_id, r.run_id, max(r.reserved_delta) as reserved, min(r.created_at) as reserved_at
       from budget_ledger r
      where r.step = 'reserve'
        and r.created_at <= now() - make_interval(secs => ?)
        and (?::jsonb is null or r.workflow_id in (select jsonb_array_elements_text(?::jsonb)))
        and not exists (select 1 from budget_ledger s where s.workflow_id = r.workflow_id and s.run_id = r.run_id and s.step = 'settle')
      group by r.workflow_id, r.run_id
      order by min(r.created_at)
      limit ?`,
    // The ids as one JSON text: execute() inlines its parameters, and would spread an array into a list.
    [opts.olderThanMs / 1000, ids, ids, opts.limit],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, runId: r.run_id, reservedMicroUsd: Number(r.reserved), reservedAt: new Date(r.reserved_at) }));
}

/**
 * Releases a run's reservation, booking no spend: `genie_settle(workflow, run, 0)`. Idempotent like
 * every settlement — false when the run was settled already (by itself, or by another sweeper).
 */
export async function releaseReservation(em: EntityManager, run: CompletionRun): Promise<boolean> {
  const rows = await em.getConnection().execute<Array<{ booked: boolean }>>('select genie_settle(?, ?, 0) as booked', [run.workflowId, run.runId]);
  return rows[0].booked;
}
