import type { Config } from './config.js';

/**
 * The workflow sandbox's debugging aids cost CPU on every workflow task, so on every request here
 * (patches/README.md): no deadlock watchdog per call into the sandbox, no stack-trace promise hook.
 * Both need the patched @temporalio/worker. The hook is read in the workflow thread at its start,
 * which inherits this process's environment: call this before the first Worker.create.
 */
export function workflowSandboxOptions(config: Config): { isolateExecutionTimeout?: number } {
  if (!config.GENIE_LEAN_WORKFLOW_SANDBOX) return {};
  process.env.TEMPORAL_WORKFLOW_STACK_TRACES = 'off';
  return { isolateExecutionTimeout: 0 };
}
