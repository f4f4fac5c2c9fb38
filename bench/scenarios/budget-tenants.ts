import { BudgetStore } from '../../db/budget-store.js';
import { generateApiKey, hashApiKey } from '../../db/api-keys.js';
import { newId } from '../../db/ids.js';
import { openOrm } from '../../db/orm.js';
import type { Principal } from '../../protocol/principal.js';
import { pct, round } from '../stats.js';

// Issue 5's performance check: reservations must not serialize unrelated tenants. The same number of
// reserve+settle pairs, at the same concurrency, all on one tenant's caps vs spread over 50 tenants.

async function tenants(store: { execute: (sql: string, p: unknown[]) => Promise<unknown> }, n: number): Promise<Principal[]> {
  const out: Principal[] = [];
  for (let i = 0; i < n; i++) {
    const ids = { org: newId('org_'), user: newId('usr_'), member: newId('mem_'), app: newId('app_'), key: newId('key_') };
    await store.execute('insert into orgs (id, name) values (?, ?)', [ids.org, ids.org]);
    await store.execute('insert into users (id, email) values (?, ?)', [ids.user, `${ids.user}@bench.test`]);
    await store.execute('insert into members (id, org_id, user_id) values (?, ?, ?)', [ids.member, ids.org, ids.user]);
    await store.execute('insert into applications (id, org_id, name) values (?, ?, ?)', [ids.app, ids.org, 'bench']);
    await store.execute('insert into api_keys (id, application_id, member_id, key_hash, prefix) values (?, ?, ?, ?, ?)', [ids.key, ids.app, ids.member, hashApiKey(generateApiKey()), 'sk-genie-ben']);
    for (const [layer, subject] of [['org', ids.org], ['application', ids.app], ['member', ids.member], ['user', ids.user]]) {
      for (const window of ['minute', 'day']) {
        await store.execute(`insert into caps (layer, subject_id, "window", limit_micro_usd) values (?, ?, ?, ?)`, [layer, subject, window, 1e15]);
      }
    }
    out.push({ keyId: ids.key, orgId: ids.org, applicationId: ids.app, memberId: ids.member, userId: ids.user });
  }
  return out;
}

export async function budgetTenantsScenario(databaseUrl: string, total: number, concurrency: number) {
  const orm = await openOrm(databaseUrl, concurrency + 2);
  const store = new BudgetStore(orm);
  const conn = orm.em.fork().getConnection();
  const run = async (principals: Principal[]) => {
    const lat: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const i = next++;
          const wf = { workflowId: newId('bench-'), runId: newId('run-') };
          const s = performance.now();
          const r = await store.reserve(wf, principals[i % principals.length], 10);
          lat.push(performance.now() - s);
          if (!r.ok) throw new Error('bench cap refused');
          await store.settle(wf, 5);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { pairsPerSecond: round(total / seconds), reserveP50: pct(lat, 50), reserveP99: pct(lat, 99) };
  };
  try {
    const one = await run(await tenants(conn, 1));
    const fifty = await run(await tenants(conn, 50));
    return { total, concurrency, capsPerTenant: 8, oneTenant: one, fiftyTenants: fifty, throughputFiftyOverOne: round(fifty.pairsPerSecond / one.pairsPerSecond) };
  } finally {
    await orm.close();
  }
}
