import type { Response } from 'express';
import type { CallerStream } from '../../activities/inference/held-caller.js';
import type { ChatCompletionChunk } from '../../protocol/chat-response.js';
import { GenieError, type GenieErrorBody } from '../../protocol/errors.js';
import type { BudgetStanding } from '../../protocol/budget.js';
import { budgetHeaders } from '../budget-headers.js';

export interface SseMeta {
  id: string;
  model: string;
  created: number;
}

/**
 * One caller's SSE response. The head is sent only when `generate` starts (so every refusal before
 * that is still a plain JSON error); after it, errors are inline chunks — never silence.
 */
export class SseSink implements CallerStream {
  private state: 'waiting' | 'open' | 'done' = 'waiting';
  private keepAlive: NodeJS.Timeout | null = null;
  /** Writers waiting for the socket to drain: released when the stream ends, whichever way. */
  private readonly drainWaits = new Set<() => void>();
  private resolveOpened!: () => void;
  private rejectOpened!: (e: GenieError) => void;
  /** Settles when the head was sent (resolve) or the request failed before it (reject). */
  readonly opened = new Promise<void>((resolve, reject) => {
    this.resolveOpened = resolve;
    this.rejectOpened = reject;
  });
  /** Settles when the stream is over, whichever way. */
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(
    private readonly res: Response,
    private readonly meta: SseMeta,
    private readonly keepAliveMs: number,
    /** Called once, at the first content or tool-call delta (time to first token; not the role chunk). */
    private onFirstToken?: () => void,
  ) {
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
    this.opened.catch(() => undefined);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }
  get isDone(): boolean {
    return this.state === 'done';
  }

  open(budget: BudgetStanding | null): void {
    if (this.state !== 'waiting') return;
    this.state = 'open';
    this.res.writeHead(200, {
      ...budgetHeaders(budget),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    this.res.socket?.setNoDelay(true);
    // No flushHeaders: the role chunk's write carries the head with it, one packet and one syscall.
    this.send(this.chunk({ role: 'assistant', content: '' }, null));
    // Comments keep proxies and load balancers from timing out a slow first token.
    this.keepAlive = setInterval(() => this.res.write(': keep-alive\n\n'), this.keepAliveMs);
    this.resolveOpened();
  }

  write(chunk: ChatCompletionChunk): boolean {
    if (this.state !== 'open') return true;
    this.stopKeepAlive();
    if (this.onFirstToken && chunk.choices.some((c) => c.delta.content || c.delta.tool_calls?.length)) {
      this.onFirstToken();
      this.onFirstToken = undefined;
    }
    return this.send(chunk);
  }

  drained(signal: AbortSignal): Promise<void> {
    if (this.state !== 'open' || !this.res.writableNeedDrain || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.off('drain', done).off('close', done);
        signal.removeEventListener('abort', done);
        this.drainWaits.delete(done);
        resolve();
      };
      this.res.once('drain', done).once('close', done);
      signal.addEventListener('abort', done, { once: true });
      this.drainWaits.add(done);
    });
  }

  get bufferedBytes(): number {
    return this.state === 'open' ? this.res.writableLength : 0;
  }

  /** A replayed stream has no first token to time: its deltas come from Postgres, not a node. */
  forgetFirstToken(): void {
    this.onFirstToken = undefined;
  }

  /** For replays: a chunk from a stored delta. */
  writeDelta(delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason']): boolean {
    return this.write(this.chunk(delta, finish));
  }

  writeUsage(usage: NonNullable<ChatCompletionChunk['usage']>): void {
    this.write({ ...this.chunk({}, null), choices: [], usage });
  }

  end(): void {
    if (this.state !== 'open') return;
    this.res.end('data: [DONE]\n\n');
    this.finish();
  }

  fail(error: GenieErrorBody): void {
    if (this.state === 'done') return;
    if (this.state === 'waiting') {
      this.finish();
      this.rejectOpened(new GenieError(error));
      return;
    }
    // The seed's rule: the error is shown inline with finish_reason "error", then [DONE].
    this.send(this.chunk({ content: `[error] ${error.status} ${error.message}` }, 'error'));
    this.res.end('data: [DONE]\n\n');
    this.finish();
  }

  /** The caller went away: nothing more is written, and whoever waits for the head stops waiting. */
  abort(): void {
    if (this.state === 'done') return;
    const waiting = this.state === 'waiting';
    this.finish();
    if (waiting) this.rejectOpened(new GenieError({ ...GenieError.internal('the caller left').body, status: 499 }));
  }

  private chunk(delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason']): ChatCompletionChunk {
    return { id: this.meta.id, object: 'chat.completion.chunk', created: this.meta.created, model: this.meta.model, choices: [{ index: 0, delta, finish_reason: finish }] };
  }

  private send(chunk: ChatCompletionChunk): boolean {
    return this.res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }

  private stopKeepAlive(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }

  private finish(): void {
    this.stopKeepAlive();
    this.state = 'done';
    for (const release of this.drainWaits) release();
    this.resolveFinished();
  }
}
