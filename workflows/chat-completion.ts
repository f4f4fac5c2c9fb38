import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { GenerateFailureDetails } from '../activities/inference/generate.js';
import type { Usage } from '../protocol/chat-response.js';
import type { CompletionJobInput, CompletionJobOutput, CompletionStatus, GenerateResult, GenerationAborted } from '../protocol/completion-job.js';
import type { GenieErrorBody } from '../protocol/errors.js';
import { callerHeldNodeCall, nodeCall, shortStep } from './activity-options.js';
import { searchAttributes, statusQuery } from './definitions.js';

const FAILOVER_ATTEMPTS = 3;
const GENIE_ERROR = 'GenieError';
const GENERATION_ABORTED = 'GenerationAborted';
const ZERO_USAGE: Usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

const { selectNode, settleUsage } = proxyLocalActivities<Activities>(shortStep);

/**
 * One completion: select a node → generate (failing over to another node while no token has been
 * sent) → settle usage. Deterministic; every side effect is an activity.
 */
export async function chatCompletion(input: CompletionJobInput): Promise<CompletionJobOutput> {
  let status: CompletionStatus = 'queued';
  setHandler(statusQuery, () => status);
  const setStatus = (s: CompletionStatus, node?: string) => {
    status = s;
    upsertSearchAttributes([
      { key: searchAttributes.status, value: s },
      ...(node ? [{ key: searchAttributes.node, value: node }] : []),
    ]);
  };

  // On cancel, wait for `generate` to report what it produced instead of abandoning it: that usage
  // must be settled, and the node request must be seen to stop.
  const generateOptions = {
    ...(input.callerHeld ? callerHeldNodeCall : nodeCall),
    taskQueue: input.generateQueue,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  };
  const { generate } = proxyActivities<Activities>(generateOptions);

  let result: GenerateResult | null = null;
  let usage: Usage = ZERO_USAGE;
  let nodeName: string | null = null;
  let outcome: CompletionStatus = 'failed';
  try {
    const excluded: string[] = [];
    let lastFailure: ActivityFailure | null = null;
    for (let attempt = 1; attempt <= FAILOVER_ATTEMPTS && !result; attempt++) {
      let selected;
      try {
        selected = await selectNode({ model: input.request.model, exclude: excluded });
      } catch (e) {
        // Every serving node already failed this completion: the caller sees the last node's error.
        if (lastFailure) throw rethrowable(lastFailure);
        throw e;
      }
      nodeName = selected.node.name;
      setStatus('in_progress', nodeName);
      try {
        result = await generate.executeWithOptions({ ...generateOptions, summary: `${input.mode} on ${nodeName}, attempt ${attempt}` }, [
          { workflowId: input.workflowId, mode: input.mode, created: input.created, node: selected.node, request: input.request, includeUsage: input.includeUsage, attempt },
        ]);
        usage = result.usage;
      } catch (e) {
        const abortedUsage = abortedWith(e);
        if (abortedUsage) {
          usage = abortedUsage;
          throw new CancelledFailure('generation aborted: the caller left or the completion was cancelled');
        }
        if (!(e instanceof ActivityFailure) || !canFailover(e)) throw e;
        excluded.push(nodeName);
        lastFailure = e;
      }
    }
    if (!result) throw rethrowable(lastFailure!);
    outcome = 'completed';
    return { status: 'completed', completion: result.completion, usage, node: nodeName };
  } catch (e) {
    outcome = isCancellation(e) ? 'cancelled' : 'failed';
    throw e;
  } finally {
    // Settlement must run even when the workflow is being cancelled.
    await CancellationScope.nonCancellable(() =>
      settleUsage({ workflowId: input.workflowId, mode: input.mode, principal: input.principal, model: input.request.model, node: nodeName, usage, outcome }),
    );
    setStatus(outcome);
  }
}

function canFailover(e: ActivityFailure): boolean {
  const cause = e.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== GENIE_ERROR) return false;
  return (cause.details?.[1] as GenerateFailureDetails | undefined)?.failover === true;
}

function abortedWith(e: unknown): Usage | null {
  if (!(e instanceof ActivityFailure)) return null;
  if (e.cause instanceof CancelledFailure) return ZERO_USAGE; // cancelled before it started
  if (e.cause instanceof ApplicationFailure && e.cause.type === GENERATION_ABORTED) {
    return (e.cause.details?.[0] as GenerationAborted).usage;
  }
  return null;
}

/** Surfaces a node's classified error as the workflow's own failure, keeping its caller-facing body. */
function rethrowable(e: ActivityFailure): ApplicationFailure {
  const cause = e.cause as ApplicationFailure;
  return ApplicationFailure.nonRetryable(cause.message, GENIE_ERROR, cause.details?.[0] as GenieErrorBody);
}
