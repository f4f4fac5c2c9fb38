import { costMicroUsd } from '../../protocol/budget.js';
import type { SettleUsageInput } from '../../protocol/completion-job.js';
import { FREE, type BudgetStore } from '../../db/budget-store.js';
import type { GenieMetrics } from '../metrics.js';
import { activityLog } from '../log.js';

export function createSettleUsage(budgets: BudgetStore, metrics?: GenieMetrics) {
  /**
   * Books the actual cost of the tokens produced (zero for a refused or failed request) and releases
   * the rest of the reservation. Idempotent per run: a retried settlement books nothing twice.
   */
  return async function settleUsage(input: SettleUsageInput): Promise<{ booked: boolean; costMicroUsd: number }> {
    const { principal: p, usage } = input;
    // The admission's price when the workflow has it (no lookup, and the reservation's own price).
    // (No price at all only for a completion refused before admission priced it: it produced nothing.)
    const cost = costMicroUsd(input.price ?? (await budgets.price(input.model)) ?? FREE, usage.prompt_tokens, usage.completion_tokens);
    const { recorded, booked } = await budgets.recordAndSettle(input, cost, {
      principal: p,
      model: input.model,
      node: input.node,
      mode: input.mode,
      promptTokens: usage.prompt_tokens,
      completionTokens: usage.completion_tokens,
      outcome: input.outcome,
      reservedMicroUsd: input.reservedMicroUsd ?? null,
    });
    // The reservation bounds what a node may generate, so this should never happen; when a node reports
    // more anyway it is booked (the tokens were produced) and never silent.
    const overshoot = input.reservedMicroUsd !== undefined ? cost - input.reservedMicroUsd : 0;
    if (recorded && overshoot > 0) {
      metrics?.budgetOvershoots.inc({ model: input.model, node: input.node ?? 'none' }, overshoot);
      activityLog().warn('settled above the reservation', { node: input.node, model: input.model, costMicroUsd: cost, reservedMicroUsd: input.reservedMicroUsd, overshootMicroUsd: overshoot, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
    }
    // Counted by the attempt that recorded the usage: a retried activity counts nothing twice.
    if (recorded && metrics) {
      metrics.completions.inc({ mode: input.mode, model: input.model, outcome: input.outcome });
      metrics.tokens.inc({ model: input.model, direction: 'in' }, usage.prompt_tokens);
      metrics.tokens.inc({ model: input.model, direction: 'out' }, usage.completion_tokens);
      metrics.costMicroUsd.inc({ model: input.model }, cost);
    }
    activityLog().info('usage settled', { outcome: input.outcome, node: input.node, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, costMicroUsd: cost, booked });
    return { booked, costMicroUsd: cost };
  };
}
