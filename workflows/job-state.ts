import { upsertSearchAttributes } from '@temporalio/workflow';
import type { ChatCompletion } from '../protocol/chat-response.js';
import type { CompletionJobInput, CompletionStatus } from '../protocol/completion-job.js';
import type { GenieErrorBody } from '../protocol/errors.js';
import type { JobView, WebhookState } from '../protocol/job.js';
import { searchAttributes } from './definitions.js';

/** The job view (what GET /v1/jobs/:id shows), kept in workflow state and mirrored to search attributes. */
export class JobState {
  readonly view: JobView;
  /**
   * A caller-held completion is one workflow task start to end: progress upserts would only add
   * history events nobody could see in between, so its search attributes are set once, at the end.
   */
  private readonly quiet: boolean;
  private node: string | null = null;

  constructor(input: CompletionJobInput) {
    this.quiet = input.callerHeld;
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
    if (node) this.node = node;
    if (this.quiet && status === 'in_progress') return;
    upsertSearchAttributes([
      { key: searchAttributes.status, value: status },
      ...(this.node ? [{ key: searchAttributes.node, value: this.node }] : []),
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
