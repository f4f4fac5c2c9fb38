import { ActivityFailure, ApplicationFailure, upsertSearchAttributes } from '@temporalio/workflow';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { CompletionJobInput, CompletionStatus } from '../protocol/completion-job.js';
import type { GenieErrorBody } from '../protocol/errors.js';
import type { JobView, WebhookState } from '../protocol/job.js';
import { searchAttributes } from './definitions.js';

const GENIE_ERROR = 'GenieError';

/** The caller-facing error carried by a failure, or a generic server error. */
export function errorBodyOf(e: unknown): GenieErrorBody {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  if (cause instanceof ApplicationFailure && cause.type === GENIE_ERROR && cause.details?.[0]) return cause.details[0] as GenieErrorBody;
  return { status: 500, message: (cause as Error)?.message ?? 'internal error', type: 'server_error', code: null, param: null };
}

/** The job view (what GET /v1/jobs/:id shows), kept in workflow state and mirrored to search attributes. */
export class JobState {
  readonly view: JobView;

  constructor(input: CompletionJobInput) {
    this.view = {
      id: input.jobId,
      object: 'chat.completion.job',
      status: 'queued',
      created: input.created,
      model: input.request.model,
      ...(input.metadata ? { metadata: input.metadata } : {}),
      ...(input.webhook ? { webhook: { status: 'pending', attempts: 0, last_status_code: null, last_error: null, delivered_at: null } } : {}),
    };
  }

  setStatus(status: CompletionStatus, node?: string | null): void {
    this.view.status = status;
    upsertSearchAttributes([
      { key: searchAttributes.status, value: status },
      ...(node ? [{ key: searchAttributes.node, value: node }] : []),
    ]);
  }

  complete(result: ChatCompletion | null): void {
    if (result) this.view.result = result;
    this.setStatus('completed');
  }

  fail(status: 'failed' | 'cancelled', error: GenieErrorBody): void {
    const { message, type, param, code } = error;
    this.view.error = { message, type, param, code, status: error.status };
    this.setStatus(status);
  }

  recordWebhook(update: Partial<WebhookState>): void {
    if (this.view.webhook) this.view.webhook = { ...this.view.webhook, ...update };
  }
}
