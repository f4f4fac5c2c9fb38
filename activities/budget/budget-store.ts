import type { MikroORM } from '@mikro-orm/postgresql';
import type { Knex } from '@mikro-orm/knex';
import { capLayers, capWindows, type CapLayer, type CapWindow, type Price, type Reservation, type UsageView } from '../../protocol/budget.js';
import type { Principal } from '../../protocol/principal.js';
import { windowEnd, windowStart } from './windows.js';

export interface CapRefusal {
  layer: CapLayer;
  window: CapWindow;
  resetsAt: Date;
}

interface CapRow {
  layer: CapLayer;
  subject_id: string;
  window: CapWindow;
  limit_micro_usd: string;
}

interface LedgerRow {
  layer: CapLayer;
  subject_id: string;
  window: CapWindow;
  window_start: Date;
  reserved_delta: string;
}

class Refused extends Error {
  constructor(readonly refusal: CapRefusal) {
    super(`budget cap hit: ${refusal.layer}/${refusal.window}`);
  }
}

const FREE: Price = { inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 0 };

/** Canonical order: the reporting order (org → … → user, minute → … → month), and the lock order. */
function canonical<T extends { layer: CapLayer; subject_id: string; window: CapWindow }>(rows: T[]): T[] {
  return [...rows].sort(
    (a, b) =>
      capLayers.indexOf(a.layer) - capLayers.indexOf(b.layer) ||
      (a.subject_id < b.subject_id ? -1 : a.subject_id > b.subject_id ? 1 : 0) ||
      capWindows.indexOf(a.window) - capWindows.indexOf(b.window),
  );
}

export function subjectsOf(p: Principal): Array<[CapLayer, string]> {
  return [
    ['org', p.orgId],
    ['application', p.applicationId],
    ['member', p.memberId],
    ['user', p.userId],
  ];
}

/**
 * The four-layer cap stack on Postgres. A reservation is one transaction of guarded UPDATEs
 * (`spent + reserved + amount <= limit`), one per applicable cap, taken in a canonical order: Postgres
 * re-checks the guard after waiting on a row lock, so concurrent requests can never overshoot, rows of
 * unrelated tenants are never touched (no lock serializes them), and the fixed order rules out
 * deadlocks. Every counter movement is also a ledger row unique per (workflow, step, cap instance).
 */
export class BudgetStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private get knex(): Knex {
    return this.orm.em.getKnex();
  }

  async price(model: string): Promise<Price> {
    const rows = await this.knex.raw<{ rows: Array<{ input_micro_usd_per_mtok: string; output_micro_usd_per_mtok: string }> }>(
      'select input_micro_usd_per_mtok, output_micro_usd_per_mtok from model_prices where model = ?',
      [model],
    );
    const r = rows.rows[0];
    return r ? { inputMicroUsdPerMTok: Number(r.input_micro_usd_per_mtok), outputMicroUsdPerMTok: Number(r.output_micro_usd_per_mtok) } : FREE;
  }

  /** Reserves `amount` in every applicable cap, or nothing at all. Idempotent on the workflow id. */
  async reserve(workflowId: string, principal: Principal, amount: number): Promise<{ ok: true; reservation: Reservation } | { ok: false; refusal: CapRefusal }> {
    try {
      return await this.knex.transaction(async (trx) => {
        const prior = await trx.raw<{ rows: LedgerRow[] }>(
          `select layer, subject_id, "window", window_start, reserved_delta from budget_ledger where workflow_id = ? and step = 'reserve'`,
          [workflowId],
        );
        const at = this.now();
        const caps = await this.capsOf(trx, principal);
        if (prior.rows.length > 0) return { ok: true as const, reservation: { reservedMicroUsd: amount, standing: await this.standing(trx, caps, at) } };
        let standing: Reservation['standing'] = null;
        for (const cap of caps) {
          const start = windowStart(cap.window, at);
          await trx.raw(
            `insert into cap_usage (layer, subject_id, "window", window_start) values (?, ?, ?, ?) on conflict do nothing`,
            [cap.layer, cap.subject_id, cap.window, start],
          );
          const updated = await trx.raw<{ rows: Array<{ room: string }> }>(
            `update cap_usage set reserved_micro_usd = reserved_micro_usd + ?
              where layer = ? and subject_id = ? and "window" = ? and window_start = ?
                and spent_micro_usd + reserved_micro_usd + ? <= ?
             returning ? - spent_micro_usd - reserved_micro_usd as room`,
            [amount, cap.layer, cap.subject_id, cap.window, start, amount, cap.limit_micro_usd, cap.limit_micro_usd],
          );
          if (updated.rows.length === 0) throw new Refused({ layer: cap.layer, window: cap.window, resetsAt: windowEnd(cap.window, at) });
          const room = Number(updated.rows[0].room);
          if (!standing || room < standing.remainingMicroUsd) standing = { remainingMicroUsd: room, resetsAt: windowEnd(cap.window, at).toISOString() };
          await trx.raw(
            `insert into budget_ledger (workflow_id, step, layer, subject_id, "window", window_start, reserved_delta, spent_delta)
             values (?, 'reserve', ?, ?, ?, ?, ?, 0)`,
            [workflowId, cap.layer, cap.subject_id, cap.window, start, amount],
          );
        }
        return { ok: true as const, reservation: { reservedMicroUsd: amount, standing } };
      });
    } catch (e) {
      if (e instanceof Refused) return { ok: false, refusal: e.refusal };
      throw e;
    }
  }

  /**
   * Books the actual cost and releases the reservation, in the windows it was made in. Idempotent:
   * the settle ledger rows are unique per workflow and cap instance.
   */
  async settle(workflowId: string, cost: number): Promise<{ booked: boolean }> {
    return this.knex.transaction(async (trx) => {
      const reserves = await trx.raw<{ rows: LedgerRow[] }>(
        `select layer, subject_id, "window", window_start, reserved_delta from budget_ledger where workflow_id = ? and step = 'reserve'`,
        [workflowId],
      );
      let booked = false;
      for (const r of canonical(reserves.rows)) {
        const inserted = await trx.raw<{ rowCount: number }>(
          `insert into budget_ledger (workflow_id, step, layer, subject_id, "window", window_start, reserved_delta, spent_delta)
           values (?, 'settle', ?, ?, ?, ?, ?, ?) on conflict do nothing`,
          [workflowId, r.layer, r.subject_id, r.window, r.window_start, -Number(r.reserved_delta), cost],
        );
        if (inserted.rowCount === 0) continue; // settled by an earlier attempt
        await trx.raw(
          `update cap_usage set reserved_micro_usd = reserved_micro_usd - ?, spent_micro_usd = spent_micro_usd + ?
            where layer = ? and subject_id = ? and "window" = ? and window_start = ?`,
          [Number(r.reserved_delta), cost, r.layer, r.subject_id, r.window, r.window_start],
        );
        booked = true;
      }
      return { booked };
    });
  }

  async usage(layer: CapLayer, subjectId: string, window: CapWindow): Promise<UsageView> {
    const at = this.now();
    const start = windowStart(window, at);
    const [usage, cap] = await Promise.all([
      this.knex.raw<{ rows: Array<{ spent_micro_usd: string; reserved_micro_usd: string }> }>(
        `select spent_micro_usd, reserved_micro_usd from cap_usage where layer = ? and subject_id = ? and "window" = ? and window_start = ?`,
        [layer, subjectId, window, start],
      ),
      this.knex.raw<{ rows: Array<{ limit_micro_usd: string }> }>(`select limit_micro_usd from caps where layer = ? and subject_id = ? and "window" = ?`, [layer, subjectId, window]),
    ]);
    return {
      spentMicroUsd: Number(usage.rows[0]?.spent_micro_usd ?? 0),
      reservedMicroUsd: Number(usage.rows[0]?.reserved_micro_usd ?? 0),
      limitMicroUsd: cap.rows[0] ? Number(cap.rows[0].limit_micro_usd) : null,
      resetsAt: windowEnd(window, at).toISOString(),
    };
  }

  /** Counter rows whose values differ from the sums of their ledger rows (empty = consistent). */
  async check(): Promise<Array<Record<string, unknown>>> {
    const res = await this.knex.raw<{ rows: Array<Record<string, unknown>> }>(`
      with sums as (
        select layer, subject_id, "window", window_start, sum(reserved_delta) as reserved, sum(spent_delta) as spent
          from budget_ledger group by layer, subject_id, "window", window_start)
      select coalesce(u.layer, s.layer) as layer, coalesce(u.subject_id, s.subject_id) as subject_id,
             coalesce(u."window", s."window") as "window", coalesce(u.window_start, s.window_start) as window_start,
             u.reserved_micro_usd as counter_reserved, coalesce(s.reserved, 0) as ledger_reserved,
             u.spent_micro_usd as counter_spent, coalesce(s.spent, 0) as ledger_spent
        from cap_usage u full join sums s using (layer, subject_id, "window", window_start)
       where coalesce(u.reserved_micro_usd, 0) <> coalesce(s.reserved, 0) or coalesce(u.spent_micro_usd, 0) <> coalesce(s.spent, 0)`);
    return res.rows;
  }

  private async capsOf(trx: Knex.Transaction, p: Principal): Promise<CapRow[]> {
    const subjects = subjectsOf(p);
    const res = await trx.raw<{ rows: CapRow[] }>(
      `select layer, subject_id, "window", limit_micro_usd from caps where ${subjects.map(() => '(layer = ? and subject_id = ?)').join(' or ')}`,
      subjects.flat(),
    );
    return canonical(res.rows);
  }

  /** The tightest cap's remaining room after this reservation. */
  private async standing(trx: Knex.Transaction, caps: CapRow[], at: Date) {
    let best: { remainingMicroUsd: number; resetsAt: string } | null = null;
    for (const cap of caps) {
      const start = windowStart(cap.window, at);
      const res = await trx.raw<{ rows: Array<{ spent_micro_usd: string; reserved_micro_usd: string }> }>(
        `select spent_micro_usd, reserved_micro_usd from cap_usage where layer = ? and subject_id = ? and "window" = ? and window_start = ?`,
        [cap.layer, cap.subject_id, cap.window, start],
      );
      const used = Number(res.rows[0]?.spent_micro_usd ?? 0) + Number(res.rows[0]?.reserved_micro_usd ?? 0);
      const remaining = Number(cap.limit_micro_usd) - used;
      if (!best || remaining < best.remainingMicroUsd) best = { remainingMicroUsd: remaining, resetsAt: windowEnd(cap.window, at).toISOString() };
    }
    return best;
  }
}
