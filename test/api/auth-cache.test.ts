import type { Request, Response } from 'express';
import { authenticate, type KeyLookup } from '../../api/middleware/auth.js';
import { generateApiKey } from '../../db/api-keys.js';
import { GenieError } from '../../protocol/errors.js';
import type { Principal } from '../../protocol/principal.js';
import { waitFor } from '../support/wait-for.js';

// The resolved-key cache of /v1 (api/middleware/auth.ts): bounded (least recently used out first), every
// entry trusted for the TTL from its lookup only, a rotated key no longer than its grace period. The
// lookup is a stand-in counting what reaches Postgres; the e2e side is test/e2e/key-lifecycle.test.ts.

function harness(opts: { ttlMs: number; maxKeys: number }, revokesAt: (key: string) => Date | null = () => null) {
  const lookups: string[] = [];
  const revoked = new Set<string>();
  const lookup: KeyLookup = async (key) => {
    lookups.push(key);
    if (revoked.has(key)) return null;
    const principal: Principal = { keyId: `key_${key.slice(-6)}`, orgId: 'org', applicationId: 'app', memberId: 'mem', userId: 'usr' };
    return { principal, revokesAt: revokesAt(key) };
  };
  const handler = authenticate(lookup, opts);
  /** 'ok' or the status the middleware refused with. */
  const call = async (key: string): Promise<'ok' | number> => {
    const res = { locals: {} as Record<string, unknown> };
    try {
      await handler({ headers: { authorization: `Bearer ${key}` } } as Request, res as unknown as Response, () => undefined);
      return (res.locals.principal as Principal).keyId === `key_${key.slice(-6)}` ? 'ok' : 0;
    } catch (e) {
      if (e instanceof GenieError) return e.body.status;
      throw e;
    }
  };
  const looked = (key: string) => lookups.filter((k) => k === key).length;
  return { call, looked, revoke: (key: string) => revoked.add(key) };
}

describe('the auth cache', () => {
  it('holds at most maxKeys keys, evicting the least recently used (the old Map kept every key forever)', async () => {
    const h = harness({ ttlMs: 60_000, maxKeys: 2 });
    const [a, b, c] = [generateApiKey(), generateApiKey(), generateApiKey()];
    expect(await h.call(a)).toBe('ok');
    expect(await h.call(b)).toBe('ok');
    expect(await h.call(a)).toBe('ok'); // a is now more recent than b
    expect([h.looked(a), h.looked(b)]).toEqual([1, 1]);
    expect(await h.call(c)).toBe('ok'); // a third key pushes out b, the least recently used
    expect(await h.call(a)).toBe('ok');
    expect(h.looked(a)).toBe(1);
    expect(await h.call(b)).toBe('ok');
    expect(h.looked(b)).toBe(2);
  });

  it('looks a key up again once its TTL ran out, however often it is used meanwhile, so a revocation lands', async () => {
    const h = harness({ ttlMs: 300, maxKeys: 100 });
    const key = generateApiKey();
    expect(await h.call(key)).toBe('ok');
    h.revoke(key);
    // Used all the time: trusted from the cache until the entry, counted from its lookup, runs out.
    await waitFor('the revoked key to be refused', async () => (await h.call(key)) === 401, 10_000, 10);
    expect(h.looked(key)).toBe(2);
    // Refusals are not cached: still refused, asked each time.
    expect(await h.call(key)).toBe(401);
    expect(h.looked(key)).toBe(3);
  });

  it('trusts a rotated key no longer than its grace period', async () => {
    const graceEnds = new Date(Date.now() + 200);
    const h = harness({ ttlMs: 60_000, maxKeys: 100 }, () => graceEnds);
    const key = generateApiKey();
    expect(await h.call(key)).toBe('ok');
    expect(await h.call(key)).toBe('ok');
    expect(h.looked(key)).toBe(1);
    // Past the grace, the next request asks Postgres again (which then refuses it), not after a minute.
    await waitFor('a second lookup', async () => (await h.call(key), h.looked(key) === 2), 10_000, 10);
  });

  it('with a TTL of 0 caches nothing', async () => {
    const h = harness({ ttlMs: 0, maxKeys: 100 });
    const key = generateApiKey();
    await h.call(key);
    await h.call(key);
    expect(h.looked(key)).toBe(2);
    expect(await h.call('not-a-genie-key')).toBe(401);
  });
});
