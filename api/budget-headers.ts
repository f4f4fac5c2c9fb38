import type { BudgetStanding } from '../protocol/budget.js';

/** `x-genie-budget-*` for the caller's tightest cap; none when no cap applies. */
export function budgetHeaders(budget: BudgetStanding | null | undefined): Record<string, string> {
  if (!budget) return {};
  return { 'x-genie-budget-remaining': String(budget.remainingMicroUsd), 'x-genie-budget-resets-at': budget.resetsAt };
}
