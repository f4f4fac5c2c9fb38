import type { MikroORM } from '@mikro-orm/postgresql';
import type { SettleUsageInput } from '../../protocol/completion-job.js';

export function createSettleUsage(orm: MikroORM) {
  /** Idempotent on the workflow id: a retried settlement books nothing twice. */
  return async function settleUsage(input: SettleUsageInput): Promise<{ booked: boolean }> {
    const { principal: p, usage } = input;
    const rows = await orm.em.fork().getConnection().execute<Array<{ workflow_id: string }>>(
      `insert into usage_records
         (workflow_id, org_id, application_id, member_id, user_id, model, node, mode, prompt_tokens, completion_tokens, outcome)
       values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (workflow_id) do nothing
       returning workflow_id`,
      [input.workflowId, p.orgId, p.applicationId, p.memberId, p.userId, input.model, input.node, input.mode, usage.prompt_tokens, usage.completion_tokens, input.outcome],
    );
    return { booked: rows.length > 0 };
  };
}
