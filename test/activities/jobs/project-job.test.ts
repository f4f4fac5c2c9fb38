import type { MikroORM } from '@mikro-orm/postgresql';
import { createProjectJob } from '../../../activities/jobs/project-job.js';
import { openOrm } from '../../../db/orm.js';
import { newId } from '../../../db/ids.js';
import type { JobView } from '../../../protocol/job.js';
import { withDb } from '../../support/stack.js';
import { testStack } from '../../support/stack.js';

// The job projection on real Postgres: what a model produced is stored even when jsonb could not
// hold it as is (U+0000), and a finished state is never replaced by an older one.

describe('projectJob', () => {
  let orm: MikroORM;
  beforeAll(async () => {
    orm = await openOrm(testStack().databaseUrl, 2);
  });
  afterAll(async () => {
    await orm?.close();
  });

  const view = (id: string, status: JobView['status'], content: string): JobView => ({
    id,
    object: 'chat.completion.job',
    status,
    created: 1,
    model: 'm',
    ...(status === 'completed'
      ? { result: { id: `chatcmpl-${id}`, object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } }
      : {}),
  });
  const stored = (id: string) => withDb(async (db) => (await db.query('select status, view from jobs where job_id = $1', [id])).rows[0] as { status: string; view: JobView });

  it('stores model output carrying U+0000 (as U+FFFD), keeping a literal "\\u0000" text as it was', async () => {
    const id = newId();
    await createProjectJob(orm)({ workflowId: `chatcmpl-${id}`, orgId: 'org_x', requestHash: null, job: view(id, 'completed', 'a\u0000b and the text \\u0000') });
    const row = await stored(id);
    expect(row.status).toBe('completed');
    expect(row.view.result?.choices[0].message.content).toBe('a\ufffdb and the text \\u0000');
  });

  it('never lets an older state replace a finished one', async () => {
    const id = newId();
    const project = createProjectJob(orm);
    await project({ workflowId: `chatcmpl-${id}`, orgId: 'org_x', requestHash: null, job: view(id, 'completed', 'done') });
    await project({ workflowId: `chatcmpl-${id}`, orgId: 'org_x', requestHash: null, job: view(id, 'in_progress', '') });
    expect((await stored(id)).status).toBe('completed');
  });
});
