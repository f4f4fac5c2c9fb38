import { openai, temporalClient, withDb } from '../support/stack.js';

// Every completion is a workflow whose id is the completion id, and ops can read its steps.

describe('the chatCompletion workflow behind a sync completion', () => {
  it('records selectNode → generate → settleUsage in history and books usage in Postgres', async () => {
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
      const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes] : []));
      expect(scheduled.map((a) => a.activityType?.name)).toEqual(['generate']);
      expect(scheduled[0].taskQueue?.name).toMatch(/^genie-api-/);
      // Local activities appear as markers, in order.
      const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      expect(markers.length).toBe(2);
      const order = events
        .filter((e) => e.markerRecordedEventAttributes || e.activityTaskScheduledEventAttributes)
        .map((e) => (e.activityTaskScheduledEventAttributes ? 'generate' : 'marker'));
      expect(order).toEqual(['marker', 'generate', 'marker']);
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
