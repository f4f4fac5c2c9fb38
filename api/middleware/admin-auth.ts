import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { GenieError } from '../../protocol/errors.js';

/** Guards `/admin/v1/*` with `Authorization: Bearer $GENIE_ADMIN_TOKEN` (constant-time comparison). */
export function requireAdmin(adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? createHash('sha256').update(adminToken).digest() : null;
  return (req, _res, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const given = match ? createHash('sha256').update(match[1]).digest() : null;
    if (!expected || !given || !timingSafeEqual(expected, given)) {
      throw GenieError.unauthorized(expected ? 'Invalid admin token.' : 'The admin API is disabled: GENIE_ADMIN_TOKEN is not set.');
    }
    next();
  };
}
