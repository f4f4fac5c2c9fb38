import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';

export interface TestStack {
  apiUrl: string;
  temporalAddress: string;
  namespace: string;
  databaseUrl: string;
  nodes: string;
  apiKey: string;
  adminToken: string;
}

/** The stack started by global-setup.js for this Jest run. */
export function testStack(): TestStack {
  const file = process.env.GENIE_TEST_STACK;
  if (!file) throw new Error('GENIE_TEST_STACK is not set: run the suite through jest (global-setup.js)');
  return JSON.parse(readFileSync(file, 'utf8')) as TestStack;
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

export async function withDb<T>(fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: testStack().databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}
