import { Migration } from '@mikro-orm/migrations';

/**
 * Ledger rows and usage records belong to one run of one completion (issue 15), not to a workflow id:
 * a workflow id Temporal has forgotten (past retention) and started again, or a reset's new run, is a
 * new completion, reserved and gated from nothing — it never finds an earlier run's rows and answers
 * "already reserved" for free. Rows written before this migration carry run '' and are settled by
 * whichever run of their workflow settles (exactly the old behaviour, for those rows only).
 *
 * Usage records also keep what was reserved, so a completion that cost more than its reservation (a
 * node that reported more tokens than any bound allowed) is visible per node (GET /admin/v1/nodes).
 */
export class Migration20261201020000_ledger_runs extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "budget_ledger" add column "run_id" text not null default '';`);
    this.addSql(`alter table "budget_ledger" drop constraint "budget_ledger_workflow_id_step_layer_subject_id_window_key";`);
    this.addSql(`alter table "budget_ledger" add constraint "budget_ledger_run_step_cap_key" unique ("workflow_id", "run_id", "step", "layer", "subject_id", "window");`);
    this.addSql(`alter table "usage_records" add column "run_id" text not null default '';`);
    this.addSql(`alter table "usage_records" add column "reserved_micro_usd" bigint null;`);
    this.addSql(`alter table "usage_records" drop constraint "usage_records_pkey", add primary key ("workflow_id", "run_id");`);
    // Overshoots are meant to be rare: the partial index keeps the per-node view cheap however many rows.
    this.addSql(`create index "usage_records_overshoot_index" on "usage_records" ("node", "created_at") where "cost_micro_usd" > "reserved_micro_usd";`);
    this.addSql('drop function if exists genie_settle(text, bigint);');
    this.addSql('drop function if exists genie_reserve(text, text[], text[], bigint, timestamptz);');
    this.addSql(`
create or replace function genie_reserve(p_workflow_id text, p_run_id text, p_layers text[], p_subjects text[], p_amount bigint, p_at timestamptz)
returns table (ok boolean, cap_layer text, cap_window text, resets_at timestamptz, remaining bigint, remaining_resets_at timestamptz)
language plpgsql as $$
declare
  c record;
  v_start timestamptz;
  v_room bigint;
  v_best bigint := null;
  v_best_end timestamptz := null;
  v_prior boolean;
begin
  select exists (select 1 from budget_ledger l where l.workflow_id = p_workflow_id and l.run_id = p_run_id and l.step = 'reserve') into v_prior;
  begin
    for c in
      select k.layer, k.subject_id, k."window", k.limit_micro_usd
        from caps k join unnest(p_layers, p_subjects) as s(layer, subject_id) on s.layer = k.layer and s.subject_id = k.subject_id
       order by array_position(array['org','application','member','user'], k.layer), k.subject_id,
                array_position(array['minute','hour','day','month'], k."window")
    loop
      v_start := genie_window_start(c."window", p_at);
      if v_prior then
        -- A retried activity of this run: nothing is reserved twice; report the standing as it is.
        select c.limit_micro_usd - u.spent_micro_usd - u.reserved_micro_usd into v_room
          from cap_usage u where u.layer = c.layer and u.subject_id = c.subject_id and u."window" = c."window" and u.window_start = v_start;
        v_room := coalesce(v_room, c.limit_micro_usd);
      else
        insert into cap_usage (layer, subject_id, "window", window_start) values (c.layer, c.subject_id, c."window", v_start) on conflict do nothing;
        update cap_usage u set reserved_micro_usd = u.reserved_micro_usd + p_amount
         where u.layer = c.layer and u.subject_id = c.subject_id and u."window" = c."window" and u.window_start = v_start
           and u.spent_micro_usd + u.reserved_micro_usd + p_amount <= c.limit_micro_usd
        returning c.limit_micro_usd - u.spent_micro_usd - u.reserved_micro_usd into v_room;
        if not found then
          raise exception using errcode = 'GN402', message = 'budget cap hit',
            detail = c.layer || '|' || c."window" || '|' || genie_window_end(c."window", p_at)::text;
        end if;
        insert into budget_ledger (workflow_id, run_id, step, layer, subject_id, "window", window_start, reserved_delta, spent_delta)
        values (p_workflow_id, p_run_id, 'reserve', c.layer, c.subject_id, c."window", v_start, p_amount, 0);
      end if;
      if v_best is null or v_room < v_best then
        v_best := v_room;
        v_best_end := genie_window_end(c."window", p_at);
      end if;
    end loop;
  exception when sqlstate 'GN402' then
    declare
      v_detail text;
    begin
      get stacked diagnostics v_detail = pg_exception_detail;
      return query select false, split_part(v_detail, '|', 1), split_part(v_detail, '|', 2), split_part(v_detail, '|', 3)::timestamptz, null::bigint, null::timestamptz;
      return;
    end;
  end;
  return query select true, null::text, null::text, null::timestamptz, v_best, v_best_end;
end $$;`);
    this.addSql(`
create or replace function genie_settle(p_workflow_id text, p_run_id text, p_cost bigint) returns boolean
language plpgsql as $$
declare
  r record;
  v_booked boolean := false;
begin
  for r in
    select l.run_id, l.layer, l.subject_id, l."window", l.window_start, l.reserved_delta from budget_ledger l
     where l.workflow_id = p_workflow_id and (l.run_id = p_run_id or l.run_id = '') and l.step = 'reserve'
     order by array_position(array['org','application','member','user'], l.layer), l.subject_id,
              array_position(array['minute','hour','day','month'], l."window")
  loop
    insert into budget_ledger (workflow_id, run_id, step, layer, subject_id, "window", window_start, reserved_delta, spent_delta)
    values (p_workflow_id, r.run_id, 'settle', r.layer, r.subject_id, r."window", r.window_start, -r.reserved_delta, p_cost)
    on conflict do nothing;
    if found then
      update cap_usage u set reserved_micro_usd = u.reserved_micro_usd - r.reserved_delta, spent_micro_usd = u.spent_micro_usd + p_cost
       where u.layer = r.layer and u.subject_id = r.subject_id and u."window" = r."window" and u.window_start = r.window_start;
      v_booked := true;
    end if;
  end loop;
  return v_booked;
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql('drop function if exists genie_settle(text, text, bigint);');
    this.addSql('drop function if exists genie_reserve(text, text, text[], text[], bigint, timestamptz);');
    this.addSql(`drop index if exists "usage_records_overshoot_index";`);
    this.addSql(`alter table "usage_records" drop constraint "usage_records_pkey", add primary key ("workflow_id");`);
    this.addSql(`alter table "usage_records" drop column "reserved_micro_usd", drop column "run_id";`);
    this.addSql(`alter table "budget_ledger" drop constraint "budget_ledger_run_step_cap_key";`);
    this.addSql(`alter table "budget_ledger" add constraint "budget_ledger_workflow_id_step_layer_subject_id_window_key" unique ("workflow_id", "step", "layer", "subject_id", "window");`);
    this.addSql(`alter table "budget_ledger" drop column "run_id";`);
  }
}
