import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * Sortable, URL-safe ids: a base36 millisecond timestamp then random base36 characters
 * (cuid-like, as the seed's `cmoz…` job ids). `prefix` marks the kind for humans (`org_`, `key_`).
 */
export function newId(prefix = '', randomChars = 16): string {
  const time = Date.now().toString(36).padStart(9, '0');
  let rand = '';
  for (const b of randomBytes(randomChars)) rand += ALPHABET[b % 36];
  return `${prefix}${time}${rand}`;
}
