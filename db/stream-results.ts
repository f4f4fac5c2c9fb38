import type { MikroORM } from '@mikro-orm/postgresql';
import type { StreamRecord } from '../protocol/completion-job.js';

/** A finished keyed stream, kept so a retry with the same Idempotency-Key replays it as SSE. */
export async function keepStreamRecord(orm: MikroORM, workflowId: string, record: StreamRecord): Promise<void> {
  await orm.em.fork().getConnection().execute('insert into stream_results (workflow_id, body) values (?, ?::jsonb) on conflict (workflow_id) do nothing', [workflowId, JSON.stringify(record)]);
}
