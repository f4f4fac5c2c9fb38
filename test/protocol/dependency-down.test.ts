import pg from 'pg';
import { Connection } from '@temporalio/client';
import { freePort } from '../../workers/stack/free-port.js';
import { isPostgresUnavailable, unavailableDependency, unreachableDependency } from '../../protocol/dependency-down.js';
import { testStack, withDb } from '../support/stack.js';

// What counts as "a dependency is away" (a 503 for the caller) and what does not (a bug: a 500), on
// the errors the real drivers raise.

describe('unavailableDependency', () => {
  it('a Postgres that refuses connections is unavailable; a statement Postgres rejects is not', async () => {
    const closed = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/genie` });
    const refused = await closed.connect().then(() => null, (e: unknown) => e);
    expect(refused).not.toBeNull();
    expect(unavailableDependency(refused)).toBe('postgres');
    expect(unreachableDependency(refused)).toBe('postgres');
    // A full pool is late, not away: the caller's answer is a 503, but no API marks Postgres down for it.
    const full = Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' });
    expect(unavailableDependency(full)).toBe('postgres');
    expect(unreachableDependency(full)).toBeNull();
    const rejected = await withDb((db) => db.query('select * from no_such_table').then(() => null, (e: unknown) => e));
    expect(isPostgresUnavailable(rejected)).toBe(false);
    expect(unavailableDependency(rejected)).toBeNull();
  });

  it('a Temporal frontend nobody listens on is unavailable; a call Temporal answers with an error is not', async () => {
    // As the API's monitor reaches it: a lazy connection without the client's retries.
    const lazy = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, interceptors: [] });
    const nowhere = await lazy.workflowService.getSystemInfo({}).then(() => null, (e: unknown) => e);
    await lazy.close();
    expect(unavailableDependency(nowhere)).toBe('temporal');
    const live = await Connection.connect({ address: testStack().temporalAddress });
    try {
      const notFound = await live.workflowService.describeNamespace({ namespace: 'no-such-namespace' }).then(() => null, (e: unknown) => e);
      expect(notFound).not.toBeNull();
      expect(unavailableDependency(notFound)).toBeNull();
    } finally {
      await live.close();
    }
  });
});
