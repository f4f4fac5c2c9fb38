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
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  static fromHttp(status: number, body: unknown): UpstreamError {
    const message = extractMessage(body) ?? `node answered HTTP ${status}`;
    return new UpstreamError(message, status, status >= 500 || status === 429 || status === 404);
  }

  static unreachable(nodeName: string, cause: unknown): UpstreamError {
    const code = (cause as { code?: string })?.code ?? (cause as Error)?.message ?? 'unknown error';
    return new UpstreamError(`node ${nodeName} unreachable: ${code}`, null, true);
  }

  /** The error the caller sees (DESIGN §3a): node status and message pass through; unreachable → 503. */
  toGenieError(): GenieErrorBody {
    if (this.status === null) return GenieError.unavailable(this.message).body;
    if (this.status === 400 || this.status === 422) return GenieError.badRequest(this.message).body;
    return GenieError.upstream(this.status, this.message).body;
  }
}

function extractMessage(body: unknown): string | null {
  if (typeof body === 'string') {
    try {
      return extractMessage(JSON.parse(body)) ?? (body.trim() || null);
    } catch {
      return body.trim() || null;
    }
  }
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
