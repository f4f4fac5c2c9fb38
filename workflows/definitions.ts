import { defineQuery } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CompletionStatus } from '../protocol/completion-job.js';

// Names shared by the API, the workers and the workflow (DESIGN §3a).

export const TASK_QUEUES = {
  workflows: 'genie-workflows',
  inference: 'genie-inference',
  api: (instance: string) => `genie-api-${instance}`,
} as const;

export const statusQuery = defineQuery<CompletionStatus>('status');

export const searchAttributes = {
  orgId: defineSearchAttributeKey('GenieOrgId', SearchAttributeType.KEYWORD),
  applicationId: defineSearchAttributeKey('GenieApplicationId', SearchAttributeType.KEYWORD),
  model: defineSearchAttributeKey('GenieModel', SearchAttributeType.KEYWORD),
  mode: defineSearchAttributeKey('GenieMode', SearchAttributeType.KEYWORD),
  node: defineSearchAttributeKey('GenieNode', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('GenieStatus', SearchAttributeType.KEYWORD),
} as const;

export const SEARCH_ATTRIBUTE_NAMES = Object.values(searchAttributes).map((k) => k.name);
