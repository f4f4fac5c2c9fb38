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
  private readonly waiting = new Map<string, { resolve(delivery: Delivery): void; reject(error: Error): void }>();

  /** Registers the waiter before the workflow starts, so the activity can never finish first. */
  expect(workflowId: string): Promise<Delivery> {
    return new Promise((resolve, reject) => this.waiting.set(workflowId, { resolve, reject }));
  }

  resolve(workflowId: string, delivery: Delivery): void {
    this.waiting.get(workflowId)?.resolve(delivery);
    this.waiting.delete(workflowId);
  }

  /** The waiting caller gets this error now (its process is shutting down), not a cut connection. */
  reject(workflowId: string, error: Error): void {
    this.waiting.get(workflowId)?.reject(error);
    this.waiting.delete(workflowId);
  }

  forget(workflowId: string): void {
    this.waiting.delete(workflowId);
  }
}
