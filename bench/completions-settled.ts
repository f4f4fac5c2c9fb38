import type { Client } from '@temporalio/client';

/**
 * Waits until no chatCompletion workflow is running. A sync caller has its body before `settle` and
 * the last workflow task ran, and an async job's webhook precedes its close: CPU counted per
 * completion must include that tail, and must not include the previous scenario's.
 */
export async function completionsSettled(client: Client, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { count } = await client.workflow.count('WorkflowType = "chatCompletion" AND ExecutionStatus = "Running"');
    if (count === 0) return;
    if (performance.now() > deadline) throw new Error(`${count} chatCompletion workflows still running after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

