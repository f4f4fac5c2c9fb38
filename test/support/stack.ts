import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';

export interface TestStack {
  /** One of the stack's APIs, taken in turn at every call of testStack(): tests spread over all of them. */
  apiUrl: string;
  apiUrls: string[];
  workerMetricsUrls: string[];
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  nodes: string;
  apiKey: string;
  adminToken: string;
}

let stackFile: { file: string; stack: TestStack } | null = null;
let turn = 0;

/**
 * The stack started by global-setup.js for this Jest run. With several APIs, each call hands out the
 * next one as `apiUrl`, so a test's requests (a job's start and its polls, say) land on different
 * processes — the scale-out proof runs through the whole suite.
 */
export function testStack(): TestStack {
  const file = process.env.GENIE_TEST_STACK;
  if (!file) throw new Error('GENIE_TEST_STACK is not set: run the suite through jest (global-setup.js)');
  if (stackFile?.file !== file) stackFile = { file, stack: JSON.parse(readFileSync(file, 'utf8')) as TestStack };
  const stack = stackFile.stack;
  return { ...stack, apiUrl: stack.apiUrls[turn++ % stack.apiUrls.length] };
}

/** The official OpenAI SDK pointed at Genie, retries off so every status reaches the test. */
export function openai(apiKey = testStack().apiKey): OpenAI {
  return new OpenAI({ baseURL: `${testStack().apiUrl}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

export async function temporalClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const s = testStack();
  const connection = await Connection.connect({ address: s.temporalAddress });
  return { client: new Client({ connection, namespace: s.namespace }), close: () => connection.close() };
}

/** A Temporal client on the shared test server for `fn`, closed after it. */
export async function withTemporal<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, close } = await temporalClient();
  try {
    return await fn(client);
  } finally {
    await close();
  }
}

/** One connection to the shared test Postgres (or to `databaseUrl`, a test's own) for `fn`. */
export async function withDb<T>(fn: (db: pg.Client) => Promise<T>, databaseUrl = testStack().databaseUrl): Promise<T> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

/**
 * How many Postgres backends of a deployment started with PGAPPNAME=`applicationName` are in a transaction;
 * with `staging`, only those whose last statement stored a file chunk (an upload being staged).
 */
export async function transactionsOf(applicationName: string, opts: { staging?: boolean } = {}): Promise<number> {
  const r = await withDb((db) =>
    db.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity where application_name = $1 and xact_start is not null and (not $2::boolean or query like 'insert into file_chunks%')`,
      [applicationName, opts.staging ?? false],
    ),
  );
  return r.rows[0].n;
}
