import { z } from 'zod';
import { storedText } from './stored-text.js';

// Budgets (DESIGN §4): integer micro-USD, caps per layer and calendar-aligned UTC window.

/** Checked and reported in this order: the first layer that would be exceeded is the one named. */
export const capLayers = ['org', 'application', 'member', 'user'] as const;
export const capLayerSchema = z.enum(capLayers);
export type CapLayer = z.infer<typeof capLayerSchema>;

export const capWindows = ['minute', 'hour', 'day', 'month'] as const;
export const capWindowSchema = z.enum(capWindows);
export type CapWindow = z.infer<typeof capWindowSchema>;

const microUsd = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const capSchema = z.object({
  layer: capLayerSchema,
  subjectId: storedText().min(1),
  window: capWindowSchema,
  limitMicroUsd: microUsd,
});
export type Cap = z.infer<typeof capSchema>;

export const priceSchema = z.object({ inputMicroUsdPerMTok: microUsd, outputMicroUsdPerMTok: microUsd });
export type Price = z.infer<typeof priceSchema>;

/** The caller's tightest cap after a reservation: what the x-genie-budget-* headers show. */
export const budgetStandingSchema = z.object({ remainingMicroUsd: z.number().int(), resetsAt: z.string() });
export type BudgetStanding = z.infer<typeof budgetStandingSchema>;

/**
 * One run of one completion: what ledger rows and usage records belong to. A workflow id started
 * again (after Temporal's retention, or reset) is another run, reserved and gated afresh.
 */
export const completionRunSchema = z.object({ workflowId: z.string(), runId: z.string() });
export type CompletionRun = z.infer<typeof completionRunSchema>;

export const reservationSchema = z.object({
  reservedMicroUsd: z.number().int().nonnegative(),
  /** null when no cap applies to the caller. */
  standing: budgetStandingSchema.nullable(),
});
export type Reservation = z.infer<typeof reservationSchema>;

export const usageViewSchema = z.object({
  spentMicroUsd: z.number().int(),
  reservedMicroUsd: z.number().int(),
  limitMicroUsd: z.number().int().nullable(),
  resetsAt: z.string(),
});
export type UsageView = z.infer<typeof usageViewSchema>;

/** Cost of tokens at a price, rounded up to the next micro-USD (never under-book). */
export function costMicroUsd(price: Price, promptTokens: number, completionTokens: number): number {
  const numerator = promptTokens * price.inputMicroUsdPerMTok + completionTokens * price.outputMicroUsdPerMTok;
  return Math.ceil(numerator / 1_000_000);
}
