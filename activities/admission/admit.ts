import { ApplicationFailure } from '@temporalio/common';
import { costMicroUsd } from '../../protocol/budget.js';
import type { AdmitInput, AdmitResult } from '../../protocol/completion-job.js';
import { APPLICATION_FAILURE_TYPE, GenieError } from '../../protocol/errors.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { requiredCapabilities } from '../../protocol/capabilities.js';
import type { BudgetStore } from '../budget/budget-store.js';
import type { SelectNodeInput, SelectNodeResult } from '../nodes/select-node.js';

/**
 * Admission, decided before the API answers anything (DESIGN §2): a node can serve the model (404 /
 * 503 otherwise), and the request's maximum cost (prompt estimate + max_tokens at the model's price) is
 * reserved in every applicable cap of the four layers — or nothing is, and the request is refused with
 * 402. The node is chosen first because choosing has no side effect; one local activity instead of two
 * keeps a workflow task off the request's critical path.
 */
export function createAdmit(selectNode: (input: SelectNodeInput) => Promise<SelectNodeResult>, budgets: BudgetStore) {
  return async function admit({ workflowId, principal, request }: AdmitInput): Promise<AdmitResult> {
    const { node, scores, compared } = await selectNode({ model: request.model, exclude: [], capabilities: requiredCapabilities(request) });
    const model = request.model;
    const price = await budgets.price(model);
    // max_tokens is always set by the API (the caller's, or the model default), so this is an upper bound.
    const maxCost = costMicroUsd(price, estimatePromptTokens(request.messages), request.max_tokens ?? 0);
    const outcome = await budgets.reserve(workflowId, principal, maxCost);
    if (!outcome.ok) {
      const { layer, window, resetsAt } = outcome.refusal;
      const body = GenieError.budgetCapHit(layer, window, resetsAt.toISOString()).body;
      throw ApplicationFailure.nonRetryable(body.message, APPLICATION_FAILURE_TYPE, body);
    }
    return { reservedMicroUsd: outcome.reservation.reservedMicroUsd, budget: outcome.reservation.standing, node, placement: { scores, compared } };
  };
}
