import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import { GenieError } from '../protocol/errors.js';
import { jobViewSchema, type JobView } from '../protocol/job.js';
import { jobQuery } from '../workflows/definitions.js';

export interface JobServiceDeps {
  temporal: Client;
  orm: MikroORM;
  /** How long POST …/cancel waits for the job to reach its final state before answering. */
  cancelWaitMs: number;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const notFound = GenieError.jobNotFound;

/** Accepts `<jobId>` or the completion id `chatcmpl-<jobId>`. */
export function parseJobId(raw: string): string {
  const jobId = raw.startsWith('chatcmpl-') ? raw.slice('chatcmpl-'.length) : raw;
  if (!/^[0-9a-z]{8,64}$/.test(jobId)) throw notFound(raw);
  return jobId;
}

export function createJobService(deps: JobServiceDeps) {
  /**
   * From the workflow while Temporal retains it; from the Postgres projection after that. Another
   * org's job is indistinguishable from a missing one.
   */
  async function get(orgId: string, jobId: string): Promise<JobView> {
    let found: { orgId: string; job: JobView } | null = null;
    try {
      found = await deps.temporal.workflow.getHandle(`chatcmpl-${jobId}`).query(jobQuery);
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) {
        // No worker to answer the query right now: the projection is the next best truth.
      }
      found = await fromProjection(jobId);
    }
    if (!found || found.orgId !== orgId) throw notFound(jobId);
    return found.job;
  }

  async function fromProjection(jobId: string): Promise<{ orgId: string; job: JobView } | null> {
    const rows = await deps.orm.em.fork().getConnection().execute<Array<{ org_id: string; view: unknown }>>(
      'select org_id, view from jobs where job_id = ?',
      [jobId],
    );
    return rows[0] ? { orgId: rows[0].org_id, job: jobViewSchema.parse(rows[0].view) } : null;
  }

  return {
    get,
    /** Idempotent: a finished job is returned unchanged; a running one is cancelled and awaited briefly. */
    async cancel(orgId: string, jobId: string): Promise<JobView> {
      const job = await get(orgId, jobId);
      if (TERMINAL.has(job.status)) return job;
      const handle = deps.temporal.workflow.getHandle(`chatcmpl-${jobId}`);
      await handle.cancel();
      const deadline = Date.now() + deps.cancelWaitMs;
      for (;;) {
        const now = await get(orgId, jobId);
        if (TERMINAL.has(now.status) || Date.now() > deadline) return now;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

export type JobService = ReturnType<typeof createJobService>;
