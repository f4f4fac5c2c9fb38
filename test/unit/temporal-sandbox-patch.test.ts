import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { loadConfig } from '../../workers/config.js';
import { workflowSandboxOptions } from '../../workers/workflow-sandbox.js';
import { testStack } from '../support/stack.js';

// patches/@temporalio+worker+1.24.0.patch must be applied (npm ci's postinstall): Genie's workers run
// with `isolateExecutionTimeout: 0`, which the unpatched SDK turns into an error on every workflow task.

const workflowLib = path.dirname(createRequire(import.meta.url).resolve('@temporalio/worker/lib/workflow/vm-shared.js'));

describe('the lean workflow sandbox (patched @temporalio/worker)', () => {
  it('is installed: no watchdog when the timeout is 0, the stack-trace hook behind TEMPORAL_WORKFLOW_STACK_TRACES', () => {
    for (const file of ['reusable-vm.js', 'vm.js']) {
      const source = readFileSync(path.join(workflowLib, file), 'utf8');
      expect(source).not.toMatch(/timeout: isolateExecutionTimeoutMs,/);
      expect(source).toMatch(/timeout: isolateExecutionTimeoutMs > 0 \? isolateExecutionTimeoutMs : undefined/);
    }
    expect(readFileSync(path.join(workflowLib, 'vm-shared.js'), 'utf8')).toMatch(/TEMPORAL_WORKFLOW_STACK_TRACES !== 'off'/);
  });

  it("runs workflows with Genie's sandbox options (the unpatched SDK fails every task with a timeout of 0)", async () => {
    const s = testStack();
    const options = workflowSandboxOptions(loadConfig({ GENIE_LEAN_WORKFLOW_SANDBOX: 'true' }));
    expect(options).toEqual({ isolateExecutionTimeout: 0 });
    const connection = await NativeConnection.connect({ address: s.temporalAddress });
    const taskQueue = `sandbox-probe-${Date.now()}`;
    const worker = await Worker.create({
      connection,
      namespace: s.namespace,
      taskQueue,
      workflowsPath: path.resolve(import.meta.dirname, '../support/workflows/sandbox-probe.ts'),
      ...options,
    });
    const client = new Client({ connection, namespace: s.namespace });
    try {
      await worker.runUntil(async () => {
        const handle = await client.workflow.start('sandboxProbe', { taskQueue, workflowId: taskQueue });
        await handle.signal('finish');
        expect(await handle.result()).toBe('ok');
      });
    } finally {
      await connection.close();
    }
  });
});
