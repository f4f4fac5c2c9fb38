import type { Client } from '@temporalio/client';

/** How many events a workflow's history holds: what its shape costs the server in writes. */
export async function historyLength(client: Client, workflowId: string): Promise<number> {
  return (await client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
}
