import type { ChatCompletion } from '../../protocol/chat-response.js';
import type { BudgetStanding } from '../../protocol/budget.js';

export interface Delivery {
  body: ChatCompletion;
  budget: BudgetStanding | null;
}

/**
 * In-process hand-off between the `generate` activity running on this API process's task queue and
 * the HTTP request waiting for it: the sync body goes straight to the caller in memory instead of
 * waiting for the workflow to finish (settlement continues in the workflow).
 */
export class Deliveries {
  private readonly waiting = new Map<string, (delivery: Delivery) => void>();

  /** Registers the waiter before the workflow starts, so the activity can never finish first. */
  expect(workflowId: string): Promise<Delivery> {
    return new Promise((resolve) => this.waiting.set(workflowId, resolve));
  }

  resolve(workflowId: string, delivery: Delivery): void {
    this.waiting.get(workflowId)?.(delivery);
    this.waiting.delete(workflowId);
  }

  forget(workflowId: string): void {
    this.waiting.delete(workflowId);
  }
}
