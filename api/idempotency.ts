import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth: equal bodies hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * "Same body" for Idempotency-Key (DESIGN §3a). The webhook secret is left out: the hash is kept in the
 * workflow memo, which ops can read, and must not help anyone guess a secret.
 */
export function requestHash(body: Record<string, unknown>): string {
  const webhook = body.webhook as Record<string, unknown> | undefined;
  const hashed = webhook ? { ...body, webhook: { ...webhook, secret: undefined } } : body;
  return createHash('sha256').update(canonicalJson(hashed)).digest('hex');
}

export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
