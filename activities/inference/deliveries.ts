import type { ChatCompletion } from '../../protocol/chat-response.js';

/**
 * In-process hand-off between the `generate` activity running on this API process's task queue and
 * the HTTP request waiting for it: the sync body goes straight to the caller in memory instead of
 * waiting for the workflow to finish (settlement continues in the workflow).
 */
export class Deliveries {
  private readonly waiting = new Map<string, (body: ChatCompletion) => void>();

  /** Registers the waiter before the workflow starts, so the activity can never finish first. */
  expect(workflowId: string): Promise<ChatCompletion> {
    return new Promise((resolve) => this.waiting.set(workflowId, resolve));
  }

  resolve(workflowId: string, body: ChatCompletion): void {
    this.waiting.get(workflowId)?.(body);
    this.waiting.delete(workflowId);
  }

  forget(workflowId: string): void {
    this.waiting.delete(workflowId);
  }
}
