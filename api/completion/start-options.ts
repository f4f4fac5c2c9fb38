import type { CompletionJobInput } from '../../protocol/completion-job.js';
import { estimatePromptTokens } from '../../protocol/token-estimate.js';
import { searchAttributes } from '../../workflows/definitions.js';
import type { InputSettings } from '../../protocol/completion-input.js';
import { code } from '../../workflows/markdown.js';

export interface StartSettings extends InputSettings {
  /** This process runs workflow tasks on the shared queue, so its starts may be eager. */
  eagerStart: boolean;
  /** Workflow-task timeout of a caller-held completion (its first task lasts as long as it generates). */
  callerHeldTaskTimeoutMs: number;
}

export function startOptions(input: CompletionJobInput, settings: StartSettings) {
  const estimate = estimatePromptTokens(input.request.messages);
  return {
    workflowId: input.workflowId,
    taskQueue: settings.queues.workflows,
    args: [input] as [CompletionJobInput],
    // What ops read in the Temporal UI's list and header without opening a payload. Rendered as
    // Markdown: the caller's model and webhook host only ever appear as code spans (workflows/markdown.ts).
    staticSummary: `${input.mode} · ${code(input.request.model)} · org ${input.principal.orgId} · ~${estimate} prompt tokens, max ${input.request.max_tokens}`,
    staticDetails: [
      `**${input.mode}** completion of ${code(input.request.model)}`,
      `org \`${input.principal.orgId}\` · application \`${input.principal.applicationId}\` · member \`${input.principal.memberId}\` · key \`${input.principal.keyId}\``,
      `${input.request.messages.length} messages, ~${estimate} prompt tokens (estimate), max_tokens ${input.request.max_tokens}`,
      input.webhook ? `webhook to ${code(new URL(input.webhook.url).host)}` : null,
    ]
      .filter(Boolean)
      .join('  \n'),
    memo: { requestHash: input.requestHash, metadata: input.metadata },
    // A keyed workflow id is used once: a finished one is found, never started again.
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    // The first workflow task comes back in the start call (this process runs workflow tasks too): for
    // sync and stream that task is the whole completion (admit → generate here → settle); for async it
    // is the admission, handed back in memory, so the 202 waits on no dispatch.
    requestEagerStart: settings.eagerStart,
    // A caller-held completion's first task lasts as long as its generation: the SDK heartbeats it (at
    // 80 % of this) while the local activity runs. Room for a starved process to be late, not lost.
    ...(input.callerHeld ? { workflowTaskTimeout: settings.callerHeldTaskTimeoutMs } : {}),
    typedSearchAttributes: [
      { key: searchAttributes.orgId, value: input.principal.orgId },
      { key: searchAttributes.applicationId, value: input.principal.applicationId },
      { key: searchAttributes.model, value: input.request.model },
      { key: searchAttributes.mode, value: input.mode },
      { key: searchAttributes.status, value: 'queued' },
    ],
  };
}
