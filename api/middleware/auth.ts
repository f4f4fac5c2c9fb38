import type { RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { findPrincipalByKey, hashApiKey } from '../../db/api-keys.js';
import type { Principal } from '../../protocol/principal.js';
import { GenieError } from '../../protocol/errors.js';

/** How long a resolved key is trusted before it is looked up again (also bounds revocation delay). */
const CACHE_TTL_MS = 10_000;

export function authenticate(orm: MikroORM): RequestHandler {
  const cache = new Map<string, { principal: Principal; until: number }>();
  return async (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw GenieError.unauthorized('Missing API key: send "Authorization: Bearer sk-genie-…".');
    const key = match[1];
    const hash = hashApiKey(key);
    const now = Date.now();
    let entry = cache.get(hash);
    if (!entry || entry.until < now) {
      const principal = key.startsWith('sk-genie-') ? await findPrincipalByKey(orm.em.fork(), key) : null;
      if (!principal) {
        cache.delete(hash);
        throw GenieError.unauthorized('Incorrect API key provided.');
      }
      entry = { principal, until: now + CACHE_TTL_MS };
      cache.set(hash, entry);
    }
    res.locals.principal = entry.principal;
    next();
  };
}

export function principalOf(locals: Record<string, unknown>): Principal {
  return locals.principal as Principal;
}
