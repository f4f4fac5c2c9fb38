import type { MikroORM } from '@mikro-orm/postgresql';
import type { Knex } from '@mikro-orm/knex';
import type { CapLayer, CapWindow, CompletionRun, Price, Reservation, UsageView } from '../protocol/budget.js';
import type { Principal } from '../protocol/principal.js';
import { windowEnd, windowStart } from './budget-windows.js';

export interface CapRefusal {
  layer: CapLayer;
  window: CapWindow;
  resetsAt: Date;
  /** The amount fits the cap's limit: once the window resets, the same request can be admitted. */
  fitsAfterReset: boolean;
}

/** One row from genie_reserve (db/migrations/…_budget_functions.ts). */
interface ReserveRow {
  ok: boolean;
  cap_layer: string | null;
  cap_window: string | null;
  resets_at: Date | string | null;
  remaining: string | null;
  remaining_resets_at: Date | string | null;
}

export type ReserveOutcome = { ok: true; reservation: Reservation } | { ok: false; refusal: CapRefusal };

/** What a usage record says of a run besides its cost. */
export interface UsageRow {
  principal: Principal;
  model: string;
  node: string | null;
  mode: string;
  promptTokens: number;
  completionTokens: number;
  outcome: string;
  /** What admission reserved (null for a completion refused before its reservation). */
  reservedMicroUsd: number | null;
}

export const FREE: Price = { inputMicroUsdPerMTok: 0, outputMicroUsdPerMTok: 0 };

export function subjectsOf(p: Principal): Array<[CapLayer, string]> {
  return [
    ['org', p.orgId],
    ['application', p.applicationId],
    ['member', p.memberId],
    ['user', p.userId],
  ];
}

/**
 * The four-layer cap stack on Postgres. A reservation is one call of `genie_reserve`: a guarded UPDATE
 * (`spent + reserved + amount <= limit`) per applicable cap, taken in a canonical order (org →
 * application → member → user, minute → month). Postgres re-checks the guard after waiting on a row
 * lock, so concurrent requests can never overshoot; rows of unrelated tenants are never touched (no
 * lock serializes them); the fixed order rules out deadlocks; a refusal rolls back every cap. Every
 * counter movement is also a ledger row unique per (workflow, run, step, cap instance).
 */
export class BudgetStore {
  constructor(
    private readonly orm: MikroORM,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private get knex(): Knex {
    return this.orm.em.getKnex();
  }

  /** The model's price; null when it has none (an unpriced model is refused unless marked free). */
  async price(model: string): Promise<Price | null> {
    const rows = await this.knex.raw<{ rows: Array<{ input_micro_usd_per_mtok: string; output_micro_usd_per_mtok: string }> }>(
      'select input_micro_usd_per_mtok, output_micro_usd_per_mtok from model_prices where model = ?',
      [model],
    );
    const r = rows.rows[0];
    return r ? { inputMicroUsdPerMTok: Number(r.input_micro_usd_per_mtok), outputMicroUsdPerMTok: Number(r.output_micro_usd_per_mtok) } : null;
  }

  /** Reserves `amount` in every applicable cap, or nothing at all. Idempotent per run. */
  async reserve(run: CompletionRun, principal: Principal, amount: number): Promise<ReserveOutcome> {
    const subjects = subjectsOf(principal);
    const res = await this.knex.raw<{ rows: ReserveRow[] }>('select * from genie_reserve(?, ?, ?::text[], ?::text[], ?, ?)', [
      run.workflowId,
      run.runId,
      subjects.map(([layer]) => layer),
      subjects.map(([, id]) => id),
      amount,
      this.now(),
    ]);
    return this.outcomeOf(res.rows[0], subjects, amount);
  }

  /**
   * The model's price and the reservation of what `tokens` cost at it, in one round trip (admission
   * runs on every completion's critical path). Postgres computes the cost as `costMicroUsd` does (the
   * ceiling of µUSD per million tokens, exactly). Null when the model has no price: nothing is reserved.
   */
  async reserveAtPrice(run: CompletionRun, principal: Principal, model: string, tokens: { prompt: number; completion: number }): Promise<{ price: Price; amount: number; outcome: ReserveOutcome } | null> {
    const subjects = subjectsOf(principal);
    const res = await this.knex.raw<{ rows: Array<ReserveRow & { input_price: string; output_price: string; amount: string }> }>(
      `with p as (
         select input_micro_usd_per_mtok as input_price, output_micro_usd_per_mtok as output_price,
                ceil((input_micro_usd_per_mtok::numeric * ? + output_micro_usd_per_mtok::numeric * ?) / 1000000)::bigint as amount
           from model_prices where model = ?)
       select p.input_price, p.output_price, p.amount, r.* from p cross join lateral genie_reserve(?, ?, ?::text[], ?::text[], p.amount, ?) r`,
      [tokens.prompt, tokens.completion, model, run.workflowId, run.runId, subjects.map(([layer]) => layer), subjects.map(([, id]) => id), this.now()],
    );
    const r = res.rows[0];
    if (!r) return null;
    const amount = Number(r.amount);
    return { price: { inputMicroUsdPerMTok: Number(r.input_price), outputMicroUsdPerMTok: Number(r.output_price) }, amount, outcome: await this.outcomeOf(r, subjects, amount) };
  }

  private async outcomeOf(r: ReserveRow, subjects: Array<[CapLayer, string]>, amount: number): Promise<ReserveOutcome> {
    if (!r.ok) {
      const layer = r.cap_layer as CapLayer;
      const window = r.cap_window as CapWindow;
      // Only on a refusal: whether waiting for the reset can help (a batch line defers on it).
      const subject = subjects.find(([l]) => l === layer)![1];
      const limit = await this.knex.raw<{ rows: Array<{ fits: boolean }> }>('select limit_micro_usd >= ? as fits from caps where layer = ? and subject_id = ? and "window" = ?', [amount, layer, subject, window]);
      return { ok: false, refusal: { layer, window, resetsAt: new Date(r.resets_at!), fitsAfterReset: limit.rows[0]?.fits ?? false } };
    }
    const standing = r.remaining === null ? null : { remainingMicroUsd: Number(r.remaining), resetsAt: new Date(r.remaining_resets_at!).toISOString() };
    return { ok: true, reservation: { reservedMicroUsd: amount, standing } };
  }

  /**
   * Books the actual cost and releases the reservation, in the windows it was made in. Idempotent:
   * the settle ledger rows are unique per run and cap instance.
   */
  async settle(run: CompletionRun, cost: number): Promise<{ booked: boolean }> {
    const res = await this.knex.raw<{ rows: Array<{ booked: boolean }> }>('select genie_settle(?, ?, ?) as booked', [run.workflowId, run.runId, cost]);
    return { booked: res.rows[0].booked };
  }

  /**
   * The usage row and the settlement in one round trip (the caller-held path runs this before its
   * answer). Both idempotent: the row is unique per run, the settle ledger rows per cap instance.
   */
  async recordAndSettle(run: CompletionRun, cost: number, row: UsageRow): Promise<{ recorded: boolean; booked: boolean }> {
    const res = await this.knex.raw<{ rows: Array<{ recorded: boolean; booked: boolean }> }>(
      `with rec as (
         insert into usage_records
           (workflow_id, run_id, org_id, application_id, member_id, user_id, model, node, mode, prompt_tokens, completion_tokens, outcome, cost_micro_usd, reserved_micro_usd)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (workflow_id, run_id) do nothing
         returning 1)
       select exists (select 1 from rec) as recorded, genie_settle(?, ?, ?) as booked`,
      [
        run.workflowId, run.runId, row.principal.orgId, row.principal.applicationId, row.principal.memberId, row.principal.userId,
        row.model, row.node, row.mode, row.promptTokens, row.completionTokens, row.outcome, cost, row.reservedMicroUsd,
        run.workflowId, run.runId, cost,
      ],
    );
    return res.rows[0];
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
}
