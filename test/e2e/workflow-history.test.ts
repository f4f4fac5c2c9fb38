import { openai, temporalClient, withDb } from '../support/stack.js';

// Every completion is a workflow whose id is the completion id, and ops can read its steps.

describe('the chatCompletion workflow behind a sync completion', () => {
  it('records admit → generate (on the API queue) → settleUsage in history and books usage in Postgres', async () => {
    const res = await openai().chat.completions.create({ model: 'qwen3:8b', messages: [{ role: 'user', content: 'history please' }] });
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(res.id);
      const output = await handle.result(); // settlement finishes after the caller got the body
      expect(output.status).toBe('completed');
      const desc = await handle.describe();
      expect(desc.type).toBe('chatCompletion');
      expect(desc.taskQueue).toBe('genie-workflows');
      expect(desc.searchAttributes).toMatchObject({ GenieModel: ['qwen3:8b'], GenieMode: ['sync'], GenieStatus: ['completed'] });

      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      // Local activities are recorded as markers whose data names the activity type.
      const steps = events.flatMap((e) => {
        if (e.activityTaskScheduledEventAttributes) return [`${e.activityTaskScheduledEventAttributes.activityType?.name}@${e.activityTaskScheduledEventAttributes.taskQueue?.name?.replace(/genie-api-.*/, 'genie-api-*')}`];
        const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
        return payload ? [JSON.parse(Buffer.from(payload).toString()).activity_type as string] : [];
      });
      // admit = node choice + budget reservation; selectNode only appears when a failover needs another node.
      expect(steps).toEqual(['admit', 'generate@genie-api-*', 'settleUsage']);
    } finally {
      await close();
    }
    const rows = await withDb((db) => db.query('select model, mode, prompt_tokens, completion_tokens, outcome from usage_records where workflow_id = $1', [res.id]));
    expect(rows.rows).toEqual([
      { model: 'qwen3:8b', mode: 'sync', prompt_tokens: res.usage!.prompt_tokens, completion_tokens: res.usage!.completion_tokens, outcome: 'completed' },
    ]);
  });

  it('a failed completion is a failed workflow with its usage row marked failed', async () => {
    const err = await openai().chat.completions.create({ model: 'broken:latest', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(500);
    const rows = await withDb((db) => db.query(`select workflow_id, outcome from usage_records where model = 'broken:latest' order by created_at desc limit 1`));
    expect(rows.rows[0].outcome).toBe('failed');
    const { client, close } = await temporalClient();
    try {
      const desc = await client.workflow.getHandle(rows.rows[0].workflow_id).describe();
      expect(desc.status.name).toBe('FAILED');
    } finally {
      await close();
    }
  });
});
