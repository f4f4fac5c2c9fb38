import os from 'node:os';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { loadConfig } from '../workers/config.js';
import { taskQueues } from '../workflows/definitions.js';

// The worker image's HEALTHCHECK (docker/Dockerfile). A worker serves no HTTP port, and "the process
// is up" says little: what matters is that Temporal sees it polling. The TypeScript SDK's default
// worker identity is `<pid>@<hostname>`, and a container's hostname is its own, so this container is
// healthy when the workflow task queue lists a poller whose identity ends in `@<this hostname>`.
// Temporal keeps a poller listed for a few minutes after its last poll, so a worker that stopped
// polling turns unhealthy after that delay; a crashed worker exits and is restarted anyway.

const config = loadConfig();
const taskQueue = taskQueues(config.GENIE_TASK_QUEUE_PREFIX).workflows;
const suffix = `@${os.hostname()}`;

let healthy = false;
try {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 5000 });
  try {
    const { pollers } = await connection.workflowService.describeTaskQueue({
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: { name: taskQueue },
      taskQueueType: proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    healthy = (pollers ?? []).some((p) => p.identity?.endsWith(suffix) ?? false);
    if (!healthy) console.error(`no poller from ${suffix} on ${taskQueue}`);
  } finally {
    await connection.close();
  }
} catch (e) {
  console.error(`temporal unreachable: ${(e as Error).message}`);
}
process.exit(healthy ? 0 : 1);
