import type { MikroORM } from '@mikro-orm/postgresql';
import type { JobView } from '../../protocol/job.js';
import { storedJson } from '../../db/stored-json.js';

export interface ProjectJobInput {
  workflowId: string;
  orgId: string;
  requestHash: string | null;
  job: JobView;
}

/**
 * Upserts the job's projection. Idempotent: replaying an older state never overwrites a newer one
 * (a finished status is never replaced by an earlier one; the newest write of the same rank wins).
 */
export function createProjectJob(orm: MikroORM) {
  return async function projectJob(input: ProjectJobInput): Promise<void> {
    await orm.em.fork().getConnection().execute(
      `insert into jobs (job_id, workflow_id, org_id, status, view, request_hash)
       values (?, ?, ?, ?, ?::jsonb, ?)
       on conflict (job_id) do update
         set status = excluded.status, view = excluded.view, updated_at = now()
       where jobs.status not in ('completed', 'failed', 'cancelled') or excluded.status = jobs.status`,
      [input.job.id, input.workflowId, input.orgId, input.job.status, storedJson(input.job), input.requestHash],
    );
  };
}
