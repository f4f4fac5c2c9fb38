import { costMicroUsd } from '../../protocol/budget.js';
import type { AdmitInput, AdmitResult } from '../../protocol/completion-job.js';
import { GenieError } from '../../protocol/errors.js';
import { failures } from '../../protocol/failures.js';
import { fitMaxTokens } from '../../protocol/max-tokens.js';
import { promptTokenBound } from '../../protocol/token-estimate.js';
import { requiredCapabilities } from '../../protocol/capabilities.js';
import { FREE, type BudgetStore } from '../../db/budget-store.js';
import type { Price } from '../../protocol/budget.js';
import type { SelectNodeInput, SelectNodeResult } from '../nodes/select-node.js';

/**
 * Admission, decided before the API answers anything (DESIGN §2): a node can serve the model (404 /
 * 503 otherwise), and the request's maximum cost (prompt bound + max_tokens at the model's price) is
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
  /** Unpriced models that are free on purpose (GENIE_FREE_MODELS; `*` for all). */
  freeModels: string[] = [],
) {
  return async function admit({ workflowId, runId, principal, request, mode, defaultMaxTokens }: AdmitInput): Promise<AdmitResult> {
    // A caller's own max_tokens only goes to a node whose context can hold it (400 when none can).
    const callerMaxTokens = defaultMaxTokens === true ? undefined : (request.max_tokens ?? undefined);
    const pick = () => selectNode({ model: request.model, exclude: [], capabilities: requiredCapabilities(request), maxTokens: callerMaxTokens });
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
    const promptBound = promptTokenBound(request);
    const fit = fitMaxTokens({ maxTokens: request.max_tokens ?? null, defaulted: defaultMaxTokens === true, contextLength: node.model?.contextLength, engineFitsMissing: node.engine === 'vllm', promptBound });
    // What the completion can at most cost, reserved at the model's price in the same round trip: a
    // prompt bound no engine's count exceeds, and the output the node is allowed (max_tokens as sent,
    // or the context length when none is). A model without a price costs nothing only on purpose.
    const run = { workflowId, runId };
    const priced = await budgets.reserveAtPrice(run, principal, model, { prompt: promptBound, completion: fit.outputBound });
    const price = priced?.price ?? freeOnPurpose(model, freeModels);
    const outcome = priced?.outcome ?? (await budgets.reserve(run, principal, costMicroUsd(price, promptBound, fit.outputBound)));
    if (!outcome.ok) {
      const { layer, window, resetsAt, fitsAfterReset } = outcome.refusal;
      const body = GenieError.budgetCapHit(layer, window, resetsAt.toISOString()).body;
      throw failures.genie(body, null, fitsAfterReset ? { retryAt: resetsAt.toISOString() } : null);
    }
    return {
      reservedMicroUsd: outcome.reservation.reservedMicroUsd,
      price,
      budget: outcome.reservation.standing,
      node,
      placement: { scores, compared },
      ...(fit.send !== undefined ? { maxTokens: fit.send } : {}),
      fit: { outputBound: fit.outputBound, promptBound },
    };
  };
}

/**
 * No model is free by accident (issue 15): a node serving a model nobody priced (one added through
 * the admin API, say) would otherwise serve outside every cap.
 */
function freeOnPurpose(model: string, freeModels: string[]): Price {
  if (freeModels.includes('*') || freeModels.includes(model)) return FREE;
  const body = GenieError.badRequest(
    `The model \`${model}\` has no price yet, so it cannot be billed: an admin must set one (PUT /admin/v1/prices/{model}; 0/0 marks it free) before it can be used.`,
    'model',
    'model_not_priced',
  ).body;
  throw failures.genie(body);
}
