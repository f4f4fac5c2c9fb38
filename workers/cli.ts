import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToNumber } from '@temporalio/common';
import { BudgetStore } from '../db/budget-store.js';
import { findLeakedReservations } from '../activities/budget/sweep-reservations.js';
import { workflowStateFrom } from '../activities/workflow-state.js';
import { openReservations } from '../db/budget-sweep.js';
import { openOrm } from '../db/orm.js';
import { keyListSchema, MAX_KEYS_PER_PAGE, type KeyView } from '../protocol/admin.js';
import { listPage } from '../protocol/list-page.js';
import { ROOT } from './stack/processes.js';

// `genie` — a small CLI over the admin API (and the ledger check, which reads Postgres directly).
// Env: GENIE_URL (default http://127.0.0.1:8080), GENIE_ADMIN_TOKEN (default: .genie/admin-token),
// DATABASE_URL, TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE for `budget-check`.

const usage = `usage: npm run genie -- <command>
  org create <name>                          user create <email>
  member add <orgId> <userId> [role]         app create <orgId> <name>
  key create <applicationId> <memberId>      price set <model> <inMicroUsdPerMTok> <outMicroUsdPerMTok>
  key list [--org <orgId>] [--app <applicationId>] [--member <memberId>] [--page-size <n>]   (every page; never a key, only its prefix)
  key revoke <keyId>                         key rotate <keyId> [--grace <duration, e.g. 10m, 24h>]
  cap set <layer> <subjectId> <window> <limitMicroUsd>
  cap delete <layer> <subjectId> <window>    usage <layer> <subjectId> <window>
  node add <name> <url> <vllm|triton>        node list
  node drain|activate <nodeId>               node remove <nodeId>
  persona set <alias> <model>
  budget-check [--older-than <duration>]     (counters vs ledger, and open reservations whose workflow
                                             is not running; exit 1 on either)`;

const base = process.env.GENIE_URL ?? 'http://127.0.0.1:8080';
function adminToken(): string {
  if (process.env.GENIE_ADMIN_TOKEN) return process.env.GENIE_ADMIN_TOKEN;
  const file = path.join(process.env.GENIE_DATA_DIR ?? path.join(ROOT, '.genie'), 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  throw new Error('set GENIE_ADMIN_TOKEN');
}

function adminRequest(method: string, route: string, body?: unknown): Promise<Response> {
  return fetch(`${base}/admin/v1${route}`, {
    method,
    headers: { authorization: `Bearer ${adminToken()}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Prints an answer as it came (its status when it has no body); a refusal makes the command fail. */
async function printAnswer(res: Response): Promise<void> {
  const text = await res.text();
  console.log(text || `${res.status}`);
  if (!res.ok) process.exitCode = 1;
}

const call = async (method: string, route: string, body?: unknown) => printAnswer(await adminRequest(method, route, body));

/** Every key the filter matches, page after page (the admin API answers at most MAX_KEYS_PER_PAGE at a time). */
async function listAllKeys(): Promise<void> {
  const data: KeyView[] = [];
  for (let after: string | null = null; ; ) {
    const res = await adminRequest('GET', `/keys${q({ ...keyFilter(), limit: flag('page-size') ?? String(MAX_KEYS_PER_PAGE), ...(after ? { after } : {}) })}`);
    if (!res.ok) return printAnswer(res);
    const page = keyListSchema.parse(await res.json());
    data.push(...page.data);
    if (!page.has_more || !page.last_id) break;
    after = page.last_id;
  }
  console.log(JSON.stringify(listPage(data, false)));
}

const [a, b, ...rest] = process.argv.slice(2);
const q = (o: Record<string, string>) => `?${new URLSearchParams(o)}`;
/** `--name value` pairs of the arguments after the command. */
const flag = (name: string) => (rest.includes(`--${name}`) ? rest[rest.indexOf(`--${name}`) + 1] : undefined);
const duration = (d: string) => msToNumber(d as Parameters<typeof msToNumber>[0]);
const keyFilter = () => Object.fromEntries(Object.entries({ orgId: flag('org'), applicationId: flag('app'), memberId: flag('member') }).filter(([, v]) => v)) as Record<string, string>;
switch (`${a} ${b}`) {
  case 'org create': await call('POST', '/orgs', { name: rest[0] }); break;
  case 'user create': await call('POST', '/users', { email: rest[0] }); break;
  case 'member add': await call('POST', `/orgs/${rest[0]}/members`, { userId: rest[1], ...(rest[2] ? { role: rest[2] } : {}) }); break;
  case 'app create': await call('POST', `/orgs/${rest[0]}/applications`, { name: rest[1] }); break;
  case 'key create': await call('POST', `/applications/${rest[0]}/keys`, { memberId: rest[1] }); break;
  case 'key list': await listAllKeys(); break;
  case 'key revoke': await call('POST', `/keys/${encodeURIComponent(rest[0])}/revoke`); break;
  case 'key rotate': await call('POST', `/keys/${encodeURIComponent(rest[0])}/rotate`, { graceSeconds: Math.round(duration(flag('grace') ?? '0s') / 1000) }); break;
  case 'price set': await call('PUT', `/prices/${encodeURIComponent(rest[0])}`, { inputMicroUsdPerMTok: Number(rest[1]), outputMicroUsdPerMTok: Number(rest[2]) }); break;
  case 'cap set': await call('PUT', '/caps', { layer: rest[0], subjectId: rest[1], window: rest[2], limitMicroUsd: Number(rest[3]) }); break;
  case 'node add': await call('POST', '/nodes', { name: rest[0], url: rest[1], engine: rest[2] }); break;
  case 'node list': await call('GET', '/nodes'); break;
  case 'node drain': await call('PATCH', `/nodes/${rest[0]}`, { state: 'draining' }); break;
  case 'node activate': await call('PATCH', `/nodes/${rest[0]}`, { state: 'active' }); break;
  case 'node remove': await call('DELETE', `/nodes/${rest[0]}`); break;
  case 'persona set': await call('PUT', `/personas/${rest[0]}`, { model: rest[1] }); break;
  case 'cap delete': await call('DELETE', `/caps${q({ layer: rest[0], subjectId: rest[1], window: rest[2] })}`); break;
  default:
    if (a === 'usage') {
      await call('GET', `/usage${q({ layer: b, subjectId: rest[0], window: rest[1] })}`);
    } else if (a === 'budget-check') {
      process.exitCode = await budgetCheck(b === '--older-than' ? duration(rest[0]) : 0);
    } else {
      console.error(usage);
      process.exitCode = 2;
    }
}

/**
 * The ledger audit: every counter equals the sum of its ledger rows, and no reservation is left open
 * by a workflow that is not running (closed, or unknown to Temporal) — a leak the sweeper has not
 * released (yet). `olderThanMs` ignores reservations younger than that. 0 = consistent, 1 = not.
 */
async function budgetCheck(olderThanMs: number): Promise<number> {
  const orm = await openOrm(process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:55432/genie', 2);
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  try {
    const mismatches = await new BudgetStore(orm).check();
    const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
    const { leaked } = await findLeakedReservations(orm.em.fork(), workflowStateFrom(client), { olderThanMs, limit: 10_000 });
    // A workflow that settled between the ledger read and Temporal's answer is not a leak.
    const runKey = (r: { workflowId: string; runId: string }) => `${r.workflowId}/${r.runId}`;
    const stillOpen = new Set(
      leaked.length ? (await openReservations(orm.em.fork(), { olderThanMs: 0, limit: 10_000, workflowIds: leaked.map((r) => r.workflowId) })).map(runKey) : [],
    );
    const leaks = leaked.filter((r) => stillOpen.has(runKey(r)));
    console.log(mismatches.length === 0 ? 'ok: every counter equals the sum of its ledger rows' : `counters differing from their ledger rows:\n${JSON.stringify(mismatches, null, 2)}`);
    console.log(
      leaks.length === 0
        ? 'ok: no open reservation of a workflow that is not running'
        : `leaked reservations (open, their workflow not running; the sweeper releases them):\n${JSON.stringify(leaks, null, 2)}`,
    );
    return mismatches.length === 0 && leaks.length === 0 ? 0 : 1;
  } finally {
    await connection.close();
    await orm.close();
  }
}
