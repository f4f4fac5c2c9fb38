import type { RequestHandler } from 'express';
import { hashApiKey, type KeyPrincipal } from '../../db/api-keys.js';
import type { Principal } from '../../protocol/principal.js';
import { GenieError } from '../../protocol/errors.js';
import { LRUCache } from 'lru-cache';

/** Resolves a presented key (db/api-keys.ts findPrincipalByKey over Postgres); null = unknown or revoked. */
export type KeyLookup = (key: string) => Promise<KeyPrincipal | null>;

export interface AuthCacheOptions {
  /**
   * How long a resolved key is trusted before it is looked up again — and so how long a revoked key may
   * still be let in by an API that resolved it just before (GENIE_AUTH_CACHE_TTL_MS). 0 = no cache.
   */
  ttlMs: number;
  /** At most this many resolved keys per process; the least recently used goes first (GENIE_AUTH_CACHE_MAX_KEYS). */
  maxKeys: number;
}

export const DEFAULT_AUTH_CACHE: AuthCacheOptions = { ttlMs: 10_000, maxKeys: 10_000 };

export function authenticate(lookup: KeyLookup, opts: AuthCacheOptions = DEFAULT_AUTH_CACHE): RequestHandler {
  // Keyed by the key's hash, so the process holds no plain key. An entry's age counts from its lookup,
  // not its last use: a key used every second is still looked up every ttlMs, which is what bounds the
  // revocation delay. Failed lookups are not cached: a revoked or unknown key is
  // asked about every time (it costs one indexed read), and never pushes a live key out of the cache.
  // lru-cache: bounded, least recently used out first, per-entry TTL on a monotonic clock; a read does
  // not extend an entry's TTL (updateAgeOnGet is off).
  const cache = opts.ttlMs > 0 ? new LRUCache<string, Principal>({ max: opts.maxKeys, ttl: opts.ttlMs }) : null;
  return async (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw GenieError.unauthorized('Missing API key: send "Authorization: Bearer sk-genie-…".');
    const key = match[1];
    const hash = hashApiKey(key);
    let principal = cache?.get(hash);
    if (!principal) {
      const found = key.startsWith('sk-genie-') ? await lookup(key) : null;
      if (!found) throw GenieError.unauthorized('Incorrect API key provided.');
      principal = found.principal;
      // A rotated key in its grace period is trusted no longer than the grace lasts.
      const ttl = found.revokesAt ? Math.min(opts.ttlMs, found.revokesAt.getTime() - Date.now()) : opts.ttlMs;
      if (cache && ttl > 0) cache.set(hash, principal, { ttl });
    }
    res.locals.principal = principal;
    next();
  };
}

export function principalOf(locals: Record<string, unknown>): Principal {
  return locals.principal as Principal;
}
