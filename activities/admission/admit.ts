import { costMicroUsd } from '../../protocol/budget.js';
import type { AdmitInput, AdmitResult } from '../../protocol/completion-job.js';
import { GenieError } from '../../protocol/errors.js';
import { failures } from '../../protocol/failures.js';
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
export interface SaturationPolicy {
  /** A node with at least this many queued requests (by its last probe) has no slot to offer. */
  waitingThreshold: number;
  /** How long a sync/stream caller may wait at admission for a slot before 429. */
  admissionTimeoutMs: number;
}

export function createAdmit(
  selectNode: (input: SelectNodeInput) => Promise<SelectNodeResult>,
  budgets: BudgetStore,
  saturation: SaturationPolicy,
  refresh: () => Promise<void>,
  isSaturated: (node: string) => boolean,
) {
  return async function admit({ workflowId, principal, request, mode }: AdmitInput): Promise<AdmitResult> {
    const pick = () => selectNode({ model: request.model, exclude: [], capabilities: requiredCapabilities(request) });
    let choice = await pick();
    // Interactive callers are not queued behind a saturated fleet: wait a little for a slot, then 429.
    // Async jobs queue instead (their node call simply waits its turn).
    if (mode !== 'async') {
      const deadline = Date.now() + saturation.admissionTimeoutMs;
      // Saturated means every candidate is: one free node is enough to admit.
      while (Object.keys(choice.scores).every(isSaturated)) {
        if (Date.now() >= deadline) {
          const body = GenieError.saturated(request.model, Math.max(1, Math.ceil(saturation.admissionTimeoutMs / 1000))).body;
          throw failures.genie(body);
        }
        await new Promise((r) => setTimeout(r, 200));
        await refresh();
        choice = await pick();
      }
    }
    const { node, scores, compared } = choice;
    const model = request.model;
    const price = await budgets.price(model);
    // max_tokens is always set by the API (the caller's, or the model default), so this is an upper bound.
    const maxCost = costMicroUsd(price, estimatePromptTokens(request.messages), request.max_tokens ?? 0);
    const outcome = await budgets.reserve(workflowId, principal, maxCost);
    if (!outcome.ok) {
      const { layer, window, resetsAt } = outcome.refusal;
      const body = GenieError.budgetCapHit(layer, window, resetsAt.toISOString()).body;
      throw failures.genie(body);
    }
    return { reservedMicroUsd: outcome.reservation.reservedMicroUsd, price, budget: outcome.reservation.standing, node, placement: { scores, compared } };
  };
}
