import type { temporal } from '@temporalio/proto';
import { temporalClient } from './stack.js';

/** A completion's steps from its history: activities with their queue, local activities by their markers. */
export function stepsOf(events: temporal.api.history.v1.IHistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) return [`${scheduled.activityType?.name}@${scheduled.taskQueue?.name?.replace(/.*genie-api-.*/, 'genie-api-*')}`];
    const payload = e.markerRecordedEventAttributes?.details?.data?.payloads?.[0]?.data;
    return payload ? [JSON.parse(Buffer.from(payload).toString()).activity_type as string] : [];
  });
}

/** The result a local activity recorded in its marker (the first of that type), as JSON. */
export function localActivityResult(events: temporal.api.history.v1.IHistoryEvent[], activityType: string): unknown {
  for (const e of events) {
    const details = e.markerRecordedEventAttributes?.details;
    const data = details?.data?.payloads?.[0]?.data;
    if (!data || JSON.parse(Buffer.from(data).toString()).activity_type !== activityType) continue;
    const result = details?.result?.payloads?.[0]?.data;
    return result ? JSON.parse(Buffer.from(result).toString()) : undefined;
  }
  throw new Error(`no ${activityType} marker in the history`);
}

/** The result a regular activity reported (the first of that type to complete), as JSON. */
export function activityResult(events: temporal.api.history.v1.IHistoryEvent[], activityType: string): unknown {
  const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
  for (const e of events) {
    const completed = e.activityTaskCompletedEventAttributes;
    if (!completed || !scheduled.has(String(completed.scheduledEventId))) continue;
    const result = completed.result?.payloads?.[0]?.data;
    return result ? JSON.parse(Buffer.from(result).toString()) : undefined;
  }
  throw new Error(`no completed ${activityType} activity in the history`);
}

/** Once the completion's workflow has closed (completed or failed): its steps and the node it ended on. */
export async function closedCompletion(id: string): Promise<{ steps: string[]; node: string | undefined; status: string }> {
  const { client, close } = await temporalClient();
  try {
    const handle = client.workflow.getHandle(id);
    await handle.result().catch(() => undefined);
    const desc = await handle.describe();
    return { steps: stepsOf((await handle.fetchHistory()).events ?? []), node: desc.searchAttributes.GenieNode?.[0] as string | undefined, status: desc.status.name };
  } finally {
    await close();
  }
}
