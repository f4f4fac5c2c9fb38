import { GenieError, type GenieErrorBody } from '../../protocol/errors.js';

/**
 * A node call that failed, classified once here so the workflow can decide without parsing strings:
 * `failover` = another node may succeed (unreachable, 5xx, 429, model missing there), and only while no
 * token has reached the caller.
 */
export class UpstreamError extends Error {
  constructor(
    message: string,
    /** The node's HTTP status; null when the node could not be reached at all. */
    readonly status: number | null,
    readonly failover: boolean,
    /** What the node blamed, as OpenAI names it (vLLM's error `param` / string `code`). */
    readonly blame: { param: string | null; code: string | null } = { param: null, code: null },
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  /** An OpenAI-shaped (vLLM) or plain error answer: the node's message, `param` and `code` kept. */
  static fromHttp(status: number, body: unknown): UpstreamError {
    const message = extractMessage(body) ?? `node answered HTTP ${status}`;
    return new UpstreamError(message, status, status >= 500 || status === 429 || status === 404, extractBlame(body));
  }

  /**
   * A failure of the engine itself, whatever status it came with: Triton answers every error of its
   * generate extension with the same 400 (the model raised, rejected its inputs, failed to load…), so
   * such an answer is not the caller's fault and another node may serve the request.
   */
  static engine(message: string): UpstreamError {
    return new UpstreamError(message, 500, true);
  }

  static unreachable(nodeName: string, cause: unknown): UpstreamError {
    const code = (cause as { code?: string })?.code ?? (cause as Error)?.message ?? 'unknown error';
    return new UpstreamError(`node ${nodeName} unreachable: ${code}`, null, true);
  }

  /**
   * A node that went quiet (no event within the stall timeout): treated like one that cannot be reached
   * (503 `service_unavailable`, the node suspect), and failed over from while it produced nothing.
   */
  static stalled(nodeName: string, stallMs: number, failover: boolean): UpstreamError {
    return new UpstreamError(`node ${nodeName} stalled: nothing received for ${stallMs} ms`, null, failover);
  }

  /** The error the caller sees (DESIGN §3a): node status, message and blame pass through; unreachable → 503. */
  toGenieError(): GenieErrorBody {
    if (this.status === null) return GenieError.unavailable(this.message).body;
    if (this.status === 400 || this.status === 422) return GenieError.badRequest(this.message, this.blame.param, this.blame.code).body;
    return GenieError.upstream(this.status, this.message).body;
  }
}

function parsed(body: unknown): unknown {
  if (typeof body !== 'string') return body;
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function extractMessage(raw: unknown): string | null {
  const body = parsed(raw);
  if (typeof body === 'string') return body.trim() || null;
  if (body && typeof body === 'object') {
    const b = body as { error?: unknown; message?: unknown };
    if (b.error && typeof b.error === 'object' && typeof (b.error as { message?: unknown }).message === 'string') {
      return (b.error as { message: string }).message;
    }
    if (typeof b.error === 'string') return b.error;
    if (typeof b.message === 'string') return b.message;
  }
  return null;
}

function extractBlame(raw: unknown): { param: string | null; code: string | null } {
  const body = parsed(raw) as { error?: { param?: unknown; code?: unknown } } | null;
  const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  return {
    param: typeof e?.param === 'string' && e.param ? e.param : null,
    // vLLM's `code` is the HTTP status as a number: only a string code is OpenAI's vocabulary.
    code: typeof e?.code === 'string' && e.code ? e.code : null,
  };
}
