import type { GenerateResult } from '../../protocol/completion-job.js';
import type { GenieErrorBody } from '../../protocol/errors.js';
import { CALLER_LEFT, SHUTTING_DOWN, type AdmissionOutcome, type CallerStream, type Delivery, type HeldCaller, type HeldCallers } from '../../activities/inference/held-caller.js';

export type { AdmissionOutcome } from '../../activities/inference/held-caller.js';

/** How a waiting request is answered: the sync body, the held SSE stream, or (async) the admission. */
export type Answer =
  | { kind: 'sync'; deliver(delivery: Delivery): void; fail(error: GenieErrorBody): void }
  | { kind: 'stream'; stream: CallerStream }
  | { kind: 'async'; admitted(outcome: AdmissionOutcome): void };


/** One request's hold on its completion in this process. */
export interface Hold {
  /** Aborted when the caller leaves (or this process shuts down): the node request stops at once. */
  readonly signal: AbortSignal;
  /** The caller went away. */
  leave(): void;
  /** Drops this request's entry — never another request's (a keyed duplicate holds nothing). */
  release(): void;
  /**
   * Settles when a step of the completion, run in this process, did not succeed (`troubled`): from
   * then on only the workflow's outcome can answer the caller. Never settles for a keyed duplicate.
   */
  readonly troubled: Promise<void>;
}

interface Entry {
  answer: Answer;
  controller: AbortController;
  runs: Map<number, Promise<GenerateResult>>;
  trouble(): void;
}

/**
 * The callers this API process holds, by workflow id: where the completion's `generate` (a local
 * activity in the workflow task this process started eagerly, or the fallback activity on this
 * process's queue) finds the socket to answer, and where `admit` hands an async request its outcome.
 * In memory by design: a caller's connection dies with its process anyway.
 */
export class CallerRegistry implements HeldCallers {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  hold(workflowId: string, answer: Answer): Hold {
    const controller = new AbortController();
    // After the cut, a request still arriving would run unwatched until the connections close: it is
    // told 503 (shutting down) at once instead.
    if (this.closed) controller.abort(SHUTTING_DOWN);
    const leave = () => controller.abort(CALLER_LEFT);
    // A keyed retry of a request held here already must not take over (or later delete) its entry.
    if (this.entries.has(workflowId)) return { signal: controller.signal, leave, release: () => undefined, troubled: new Promise<void>(() => undefined) };
    let trouble!: () => void;
    const troubled = new Promise<void>((resolve) => (trouble = resolve));
    const entry: Entry = { answer, controller, runs: new Map(), trouble };
    this.entries.set(workflowId, entry);
    return {
      signal: controller.signal,
      leave,
      troubled,
      release: () => {
        if (this.entries.get(workflowId) === entry) this.entries.delete(workflowId);
      },
    };
  }

  attempt(workflowId: string, attempt: number, generation: (caller: HeldCaller) => Promise<GenerateResult>): Promise<GenerateResult> | null {
    const entry = this.entries.get(workflowId);
    if (!entry || entry.answer.kind === 'async') return null;
    let run = entry.runs.get(attempt);
    if (!run) {
      const signal = entry.controller.signal;
      run = generation(entry.answer.kind === 'sync' ? { ...entry.answer, signal } : { kind: 'stream', stream: entry.answer.stream, signal });
      entry.runs.set(attempt, run);
    }
    return run;
  }

  holds(workflowId: string): boolean {
    const kind = this.entries.get(workflowId)?.answer.kind;
    return kind === 'sync' || kind === 'stream';
  }

  /** Called by `admit` in this process: an async request waiting here answers 202 or the refusal now. */
  admitted(workflowId: string, outcome: AdmissionOutcome): void {
    const entry = this.entries.get(workflowId);
    if (entry?.answer.kind === 'async') entry.answer.admitted(outcome);
  }

  troubled(workflowId: string): void {
    this.entries.get(workflowId)?.trouble();
  }

  /** The grace period is over: every caller still held here is told 503 by its `generate`, inline for streams. */
  shutdown(): void {
    this.closed = true;
    for (const entry of this.entries.values()) entry.controller.abort(SHUTTING_DOWN);
  }

  /** Settles when every generation running here has ended (answers written, usage settled). */
  async drained(): Promise<void> {
    await Promise.allSettled([...this.entries.values()].flatMap((e) => [...e.runs.values()]));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Bytes the streams held here have written and their callers' sockets not yet taken. */
  bufferedBytes(): number {
    let sum = 0;
    for (const { answer } of this.entries.values()) if (answer.kind === 'stream') sum += answer.stream.bufferedBytes;
    return sum;
  }
}
