import { proxyLocalActivities, sleep, type LocalActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { WebhookState } from '../protocol/job.js';
import type { ProjectJobInput } from '../activities/jobs/project-job.js';
import { attemptIsFinal, attemptRecord } from '../protocol/webhook-attempt.js';
import { untilPostgresAnswers } from './activity-options.js';

// Each attempt is a local activity: it runs in the workflow task that decided it (after the node call,
// that is the same task as settlement and the projection), so delivering costs no activity dispatch
// and no extra workflow task. One delivery per slot of the schedule below, which is the receiver's
// retry policy (Svix-like fixed delays, not backoff), its waits durable timers: whatever the receiver
// does comes back as a value, never as an activity failure. What does fail the activity is Genie's own
// side — the webhook secret's lookup in Postgres — and that is retried until Postgres answers, so an
// outage of Genie's database never uses up the receiver's slots (the webhook would be lost).
// GENIE_WEBHOOK_TIMEOUT_MS is capped below this start-to-close timeout (workers/config.ts): an attempt
// cut by it would be retried at once by the retry policy, outside the receiver's schedule.
const attempt: LocalActivityOptions = { ...untilPostgresAnswers, startToCloseTimeout: '1m' };
const { deliverWebhook } = proxyLocalActivities<Activities>(attempt);

/**
 * Delivers the finished job on the given schedule of delays. A 2xx is delivered; 410 Gone stops for
 * good; anything else waits for the next slot. Every attempt lands in the job view (and so in GET).
 * Durable timers: a receiver that is down for hours is retried across worker restarts.
 */
export async function deliverOnSchedule(opts: {
  workflowId: string;
  url: string;
  payload: unknown;
  scheduleMs: number[];
  /** Where each attempt is recorded (an async job's view, a batch's webhook state). */
  job: { recordWebhook(update: Partial<WebhookState>): void };
  /** Writes the recorded state somewhere durable, unless the attempt already did (see `projection`). */
  onAttempt: () => Promise<void>;
  /** An async job's projection before an attempt: the attempt's step writes it with its outcome. */
  projection?: () => ProjectJobInput;
}): Promise<void> {
  for (let i = 0; i < opts.scheduleMs.length; i++) {
    if (opts.scheduleMs[i] > 0) await sleep(opts.scheduleMs[i]);
    let statusCode: number | null = null;
    let error: string | null = null;
    let at: string | undefined;
    let projected = false;
    try {
      ({ statusCode, error, at, projected = false } = await deliverWebhook.executeWithOptions(
        { ...attempt, summary: `webhook attempt ${i + 1}` },
        [{ workflowId: opts.workflowId, url: opts.url, payload: opts.payload, attempt: i + 1, ...(opts.projection ? { projection: opts.projection() } : {}) }],
      ));
    } catch (e) {
      error = `delivery attempt did not complete: ${(e as Error).message}`;
    }
    // The attempt's own time when it reported one (histories from before it did: the workflow's).
    opts.job.recordWebhook(attemptRecord(i + 1, statusCode, error, at ?? new Date().toISOString()));
    if (!projected) await opts.onAttempt();
    if (attemptIsFinal(statusCode)) return;
  }
  opts.job.recordWebhook({ status: 'failed' });
  await opts.onAttempt();
}
