import http from 'node:http';
import https from 'node:https';
import got, { RequestError } from 'got';
import type { MikroORM } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { signWebhook } from './sign.js';
import type { WebhookUrlGuard } from './url-guard.js';
import type { GenieMetrics } from '../metrics.js';
import { activityLog } from '../log.js';
import { attemptRecord } from '../../protocol/webhook-attempt.js';
import type { ProjectJobInput } from '../jobs/project-job.js';

export const deliverWebhookInputSchema = z.object({
  workflowId: z.string(),
  url: z.string(),
  /** The payload object; serialized once here, and those exact bytes are signed and sent. */
  payload: z.unknown(),
  attempt: z.number().int().positive(),
  /**
   * An async job's projection as it stood before this attempt: written here with the attempt's
   * outcome applied (attemptRecord), so recording an attempt costs no step of its own.
   */
  projection: z.custom<ProjectJobInput>().optional(),
});
export type DeliverWebhookInput = z.infer<typeof deliverWebhookInputSchema>;
export const deliveryAttemptSchema = z.object({
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  /** When the attempt ended (its delivered_at if delivered). */
  at: z.string().optional(),
  /** True once the projection given was written with this attempt in it. */
  projected: z.boolean().optional(),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

/**
 * The longest an attempt waits to write the job's projection after the POST: the attempt's timeout
 * (1 min) must hold GENIE_WEBHOOK_TIMEOUT_MS (≤ 50 s) and this.
 */
const PROJECTION_WRITE_MS = 5000;

/** A few KB: enough for any receiver's "ok" or error page; more is never read. */
const MAX_RESPONSE_BYTES = 4096;

export interface DeliverWebhookDeps {
  orm: MikroORM;
  guard: WebhookUrlGuard;
  timeoutMs: number;
  metrics?: GenieMetrics;
  project?: (input: ProjectJobInput) => Promise<void>;
}

/**
 * One delivery attempt. Never throws for the receiver's behaviour: the outcome (status or error) goes
 * back to the workflow, whose retry schedule decides what happens next.
 */
export function createDeliverWebhook(deps: DeliverWebhookDeps) {
  const client = got.extend({
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    agent: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) },
    dnsLookup: deps.guard.lookup() as never,
  });
  const record = (input: DeliverWebhookInput, attempt: DeliveryAttempt): DeliveryAttempt => {
    const outcome = attempt.statusCode === null ? 'error' : attempt.statusCode === 410 ? 'gone' : attempt.error === null ? 'delivered' : 'rejected';
    deps.metrics?.webhookAttempts.inc({ outcome });
    // The URL's host only: a webhook URL may carry a token in its path or query.
    const log = activityLog();
    (outcome === 'delivered' ? log.info : log.warn).call(log, `webhook attempt ${input.attempt}: ${outcome}`, { host: hostOf(input.url), statusCode: attempt.statusCode, error: attempt.error });
    return attempt;
  };
  return async function deliverWebhook(input: DeliverWebhookInput): Promise<DeliveryAttempt> {
    const attempt = record(input, await attemptDelivery(input));
    const at = new Date().toISOString();
    if (!input.projection || !deps.project) return { ...attempt, at };
    const { job } = input.projection;
    // Never a reason to send the attempt again — neither a failed write nor a slow one that would run
    // the attempt past its timeout (and so into a retry): the workflow then writes the projection in a
    // step of its own, retried until Postgres answers.
    let timer: NodeJS.Timeout | undefined;
    try {
      const write = deps.project({ ...input.projection, job: { ...job, ...(job.webhook ? { webhook: { ...job.webhook, ...attemptRecord(input.attempt, attempt.statusCode, attempt.error, at) } } : {}) } });
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer from Postgres in ${PROJECTION_WRITE_MS} ms`)), PROJECTION_WRITE_MS)));
      await Promise.race([write, late]);
      return { ...attempt, at, projected: true };
    } catch (e) {
      activityLog().warn('webhook attempt recorded, its projection not written here', { error: (e as Error).message });
      return { ...attempt, at, projected: false };
    } finally {
      clearTimeout(timer);
    }
  };
  /**
   * The receiver's status. Its body is read only to keep the socket reusable: at most
   * MAX_RESPONSE_BYTES of it (a receiver choosing to stream an endless answer gets its socket closed,
   * never Genie's memory or the attempt's whole timeout).
   */
  async function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const stream = client.stream.post(url, { body, headers, timeout: { request: deps.timeoutMs } });
    let statusCode: number | undefined;
    stream.once('response', (res: { statusCode: number }) => (statusCode = res.statusCode));
    let read = 0;
    for await (const chunk of stream) {
      read += (chunk as Buffer).length;
      // Leaving the loop destroys the request and its socket: the rest is never read.
      if (read >= MAX_RESPONSE_BYTES) break;
    }
    if (statusCode === undefined) throw new Error('the response ended before its status line');
    return statusCode;
  }
  async function attemptDelivery(input: DeliverWebhookInput): Promise<DeliveryAttempt> {
    const rows = await deps.orm.em.fork().getConnection().execute<Array<{ secret: string }>>(
      'select secret from webhook_secrets where workflow_id = ?',
      [input.workflowId],
    );
    if (!rows[0]) return { statusCode: null, error: 'webhook secret not found' };
    const body = JSON.stringify(input.payload);
    const headers = signWebhook({ secret: rows[0].secret, msgId: input.workflowId, body, at: new Date() });
    try {
      const statusCode = await post(input.url, body, { ...headers, 'content-type': 'application/json', 'user-agent': 'Genie-Webhooks/1' });
      return { statusCode, error: statusCode >= 200 && statusCode < 300 ? null : `receiver answered ${statusCode}` };
    } catch (e) {
      const code = e instanceof RequestError ? e.code : undefined;
      return { statusCode: null, error: `${code ?? 'ERROR'}: ${(e as Error).message}` };
    }
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid url)';
  }
}
