import type { NodeRequest } from './chat-request.js';

/**
 * What a node must be able to do for a request (capability-aware routing). Type-only imports keep this
 * free of zod, so the workflow bundle can use it too.
 */
export function requiredCapabilities(req: Pick<NodeRequest, 'tools' | 'tool_choice' | 'response_format'>): string[] {
  const caps: string[] = [];
  if (req.tools?.length && req.tool_choice !== 'none') caps.push('tools');
  if (req.response_format?.type === 'json_object') caps.push('json_object');
  if (req.response_format?.type === 'json_schema') caps.push('json_schema');
  return caps;
}
