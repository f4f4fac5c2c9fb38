import type { WebhookState } from './job.js';

/**
 * What one delivery attempt changes in a job's webhook state. The workflow records it in its job
 * view, and the attempt's own step writes the same into the job's projection: one function, so the
 * two can never disagree. A 2xx is delivered; 410 Gone stops for good; anything else waits.
 */
export function attemptRecord(attempt: number, statusCode: number | null, error: string | null, at: string): Partial<WebhookState> {
  const delivered = statusCode !== null && statusCode >= 200 && statusCode < 300;
  return {
    attempts: attempt,
    last_status_code: statusCode,
    last_error: error,
    ...(delivered ? { status: 'delivered', delivered_at: at } : {}),
    ...(statusCode === 410 ? { status: 'failed' } : {}),
  };
}

/** Whether the schedule stops after this attempt. */
export const attemptIsFinal = (statusCode: number | null) => (statusCode !== null && statusCode >= 200 && statusCode < 300) || statusCode === 410;
