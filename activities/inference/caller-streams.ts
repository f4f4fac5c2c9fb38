import type { ChatCompletionChunk } from '../../protocol/chat-response.js';
import type { GenieErrorBody } from '../../protocol/errors.js';
import type { BudgetStanding } from '../../protocol/budget.js';

/** The held connection of a stream caller, as the `generate` activity writes to it. */
export interface CallerStream {
  /** Aborted when the caller leaves: the node request must stop at once. */
  readonly signal: AbortSignal;
  /** Sends the response head (with the budget headers) and the role chunk; once — a failover attempt calls it again harmlessly. */
  open(budget: BudgetStanding | null): void;
  write(chunk: ChatCompletionChunk): void;
  /** `data: [DONE]` and close. */
  end(): void;
  /** An error known before the first byte becomes a JSON error; after it, the inline `[error]` chunk. */
  fail(error: GenieErrorBody): void;
}

/** Stream callers held by this API process, by workflow id. */
export class CallerStreams {
  private readonly streams = new Map<string, CallerStream>();
  hold(workflowId: string, stream: CallerStream): void {
    this.streams.set(workflowId, stream);
  }
  get(workflowId: string): CallerStream | undefined {
    return this.streams.get(workflowId);
  }
  release(workflowId: string): void {
    this.streams.delete(workflowId);
  }
}
