import type { MikroORM } from '@mikro-orm/postgresql';
import type { JobView } from '../../protocol/job.js';

/** A `\u0000` escape in JSON text (not an escaped backslash followed by "u0000"). */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

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
      // jsonb refuses `\u0000`, which a model's output or a node's error message may carry (callers'
      // own strings were refused at validation): stored as U+FFFD rather than a projection retrying forever.
      [input.job.id, input.workflowId, input.orgId, input.job.status, JSON.stringify(input.job).replace(NUL_ESCAPE, '$1\\ufffd'), input.requestHash],
    );
  };
}
