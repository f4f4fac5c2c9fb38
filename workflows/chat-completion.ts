import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { GenerateFailureDetails } from '../activities/inference/generate.js';
import type { CompletionJobInput, CompletionJobOutput, CompletionStatus, GenerateResult } from '../protocol/completion-job.js';
import type { GenieErrorBody } from '../protocol/errors.js';
import { callerHeldNodeCall, nodeCall, shortStep } from './activity-options.js';
import { searchAttributes, statusQuery, TASK_QUEUES } from './definitions.js';

const FAILOVER_ATTEMPTS = 3;
const GENIE_ERROR = 'GenieError';
const ZERO_USAGE = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

const { selectNode, settleUsage } = proxyLocalActivities<Activities>(shortStep);

/** One completion: select a node → generate → settle usage. Deterministic; every side effect is an activity. */
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

  const callerHeld = input.generateQueue !== TASK_QUEUES.inference;
  const { generate } = proxyActivities<Activities>({ ...(callerHeld ? callerHeldNodeCall : nodeCall), taskQueue: input.generateQueue });

  let result: GenerateResult | null = null;
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
        result = await generate.executeWithOptions(
          { ...(callerHeld ? callerHeldNodeCall : nodeCall), taskQueue: input.generateQueue, summary: `${input.mode} on ${nodeName} (attempt ${attempt})` },
          [{ workflowId: input.workflowId, mode: input.mode, created: input.created, node: selected.node, request: input.request, attempt }],
        );
      } catch (e) {
        if (!(e instanceof ActivityFailure) || !canFailover(e)) throw e;
        excluded.push(nodeName);
        lastFailure = e;
      }
    }
    if (!result) throw rethrowable(lastFailure!);
    outcome = 'completed';
    return { status: 'completed', completion: result.completion, usage: result.usage, node: nodeName };
  } catch (e) {
    outcome = isCancellation(e) ? 'cancelled' : 'failed';
    throw e;
  } finally {
    // Settlement must run even when the workflow is being cancelled.
    await CancellationScope.nonCancellable(() =>
      settleUsage({
        workflowId: input.workflowId,
        mode: input.mode,
        principal: input.principal,
        model: input.request.model,
        node: nodeName,
        usage: result?.usage ?? ZERO_USAGE,
        outcome,
      }),
    );
    setStatus(outcome);
  }
}

function canFailover(e: ActivityFailure): boolean {
  const cause = e.cause;
  if (!(cause instanceof ApplicationFailure) || cause.type !== GENIE_ERROR) return false;
  return (cause.details?.[1] as GenerateFailureDetails | undefined)?.failover === true;
}

/** Surfaces a node's classified error as the workflow's own failure, keeping its caller-facing body. */
function rethrowable(e: ActivityFailure): ApplicationFailure {
  const cause = e.cause as ApplicationFailure;
  return ApplicationFailure.nonRetryable(cause.message, GENIE_ERROR, cause.details?.[0] as GenieErrorBody);
}
