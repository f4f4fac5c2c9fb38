import type { BudgetStanding } from '../../protocol/budget.js';
import type { ChatCompletion, ChatCompletionChunk } from '../../protocol/chat-response.js';
import type { GenerateResult } from '../../protocol/completion-job.js';
import type { GenieErrorBody } from '../../protocol/errors.js';

// What `generate` sees of a caller whose connection is held by the process it runs in (an API
// process, for sync and stream). The registry behind it lives with the API (api/completion/).

/** The sync body, handed to the waiting request in memory. */
export interface Delivery {
  body: ChatCompletion;
  budget: BudgetStanding | null;
}

/** What the `admit` step decided, handed to an async request waiting in the same process. */
export type AdmissionOutcome = { ok: true; budget: BudgetStanding | null } | { ok: false; error: GenieErrorBody };

/** A stream caller's held SSE response, as `generate` writes to it. */
export interface CallerStream {
  /** Sends the response head (with the budget headers) and the role chunk; once — a failover attempt calls it again harmlessly. */
  open(budget: BudgetStanding | null): void;
  /**
   * Writes one chunk. False: the caller's socket took less than was written (a slow reader) — wait for
   * `drained` before writing more, so a slow reader slows the node read instead of filling memory.
   */
  write(chunk: ChatCompletionChunk): boolean;
  /** Settles once the caller's socket takes more again, the stream is over, or `signal` aborts. */
  drained(signal: AbortSignal): Promise<void>;
  /** Bytes written and not yet taken by the caller's socket (the genie_sse_buffered_bytes gauge). */
  readonly bufferedBytes: number;
  /** `data: [DONE]` and close. */
  end(): void;
  /** An error known before the first byte becomes a JSON error; after it, the inline `[error]` chunk. */
  fail(error: GenieErrorBody): void;
}

/** Why a held caller's signal was aborted. */
export const CALLER_LEFT = 'caller-left';
export const SHUTTING_DOWN = 'shutting-down';

export type HeldCaller = { readonly signal: AbortSignal } & (
  | { kind: 'sync'; deliver(delivery: Delivery): void; fail(error: GenieErrorBody): void }
  | { kind: 'stream'; stream: CallerStream }
);

export interface HeldCallers {
  /**
   * Runs `generation` for one attempt of a completion against the caller held in this process, once:
   * asked again for the same attempt (its workflow task retried here, or the API-queue fallback after
   * the local activity's result was lost), it returns the first run's outcome. Null: no caller here.
   */
  attempt(workflowId: string, attempt: number, generation: (caller: HeldCaller) => Promise<GenerateResult>): Promise<GenerateResult> | null;
  /**
   * A step of this completion ran into something other than success here (an admission refusal or
   * error, a failed node attempt): the caller held here will hear the workflow's outcome, not a body,
   * so the API starts waiting on it now. Unknown ids are ignored.
   */
  troubled(workflowId: string): void;
  /** A sync or stream caller of this completion is held here (`serveHere` admits only then). */
  holds(workflowId: string): boolean;
}
