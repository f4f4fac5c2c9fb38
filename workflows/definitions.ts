import { defineQuery } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CompletionStatus } from '../protocol/completion-job.js';

// Names shared by the API, the workers and the workflow (DESIGN §3a).

/** `prefix` is empty in a normal deployment; tests use it to run isolated deployments side by side. */
export function taskQueues(prefix = '') {
  return {
    workflows: `${prefix}genie-workflows`,
    inference: `${prefix}genie-inference`,
    api: (instance: string) => `${prefix}genie-api-${instance}`,
  };
}

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
