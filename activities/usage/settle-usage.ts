import type { MikroORM } from '@mikro-orm/postgresql';
import { costMicroUsd } from '../../protocol/budget.js';
import type { SettleUsageInput } from '../../protocol/completion-job.js';
import type { BudgetStore } from '../budget/budget-store.js';
import type { GenieMetrics } from '../metrics.js';
import { activityLog } from '../log.js';

export function createSettleUsage(orm: MikroORM, budgets: BudgetStore, metrics?: GenieMetrics) {
  /**
   * Books the actual cost of the tokens produced (zero for a refused or failed request) and releases
   * the rest of the reservation. Idempotent on the workflow id: a retried settlement books nothing twice.
   */
  return async function settleUsage(input: SettleUsageInput): Promise<{ booked: boolean; costMicroUsd: number }> {
    const { principal: p, usage } = input;
    const cost = costMicroUsd(await budgets.price(input.model), usage.prompt_tokens, usage.completion_tokens);
    const recorded = await orm.em.fork().getConnection().execute<{ affectedRows: number }>(
      `insert into usage_records
         (workflow_id, org_id, application_id, member_id, user_id, model, node, mode, prompt_tokens, completion_tokens, outcome, cost_micro_usd)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (workflow_id) do nothing`,
      [input.workflowId, p.orgId, p.applicationId, p.memberId, p.userId, input.model, input.node, input.mode, usage.prompt_tokens, usage.completion_tokens, input.outcome, cost],
      'run',
    );
    // Counted by the attempt that recorded the usage, before anything else can fail: a retried
    // activity counts nothing twice, and a settlement retried after this point still counts once.
    if (recorded.affectedRows > 0 && metrics) {
      metrics.completions.inc({ mode: input.mode, model: input.model, outcome: input.outcome });
      metrics.tokens.inc({ model: input.model, direction: 'in' }, usage.prompt_tokens);
      metrics.tokens.inc({ model: input.model, direction: 'out' }, usage.completion_tokens);
      metrics.costMicroUsd.inc({ model: input.model }, cost);
    }
    const { booked } = await budgets.settle(input.workflowId, cost);
    activityLog().info('usage settled', { outcome: input.outcome, node: input.node, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, costMicroUsd: cost, booked });
    return { booked, costMicroUsd: cost };
  };
}
