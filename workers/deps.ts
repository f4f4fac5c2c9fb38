import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { NodeClient } from '../activities/inference/node-client.js';
import { VllmClient } from '../activities/inference/vllm.js';
import { TritonClient } from '../activities/inference/triton.js';
import { NodeDirectory } from '../activities/nodes/node-directory.js';
import type { NodeRef } from '../activities/nodes/node-list.js';
import { migrate, openOrm } from '../db/orm.js';
import type { Config } from './config.js';
import { createLogger } from './logger.js';

/** The dependency root shared by the API and worker processes. */
export interface CoreDeps {
  config: Config;
  log: Logger;
  orm: MikroORM;
  directory: NodeDirectory;
  clientFor(node: NodeRef): NodeClient;
  close(): Promise<void>;
}

export async function createCoreDeps(config: Config, component: string): Promise<CoreDeps> {
  const log = createLogger(component, config.GENIE_LOG_LEVEL);
  const orm = await openOrm(config.DATABASE_URL);
  await migrate(orm, config.DATABASE_URL);
  const vllm = new VllmClient({ requestTimeoutMs: config.GENIE_NODE_TIMEOUT_MS });
  const triton = new TritonClient({ requestTimeoutMs: config.GENIE_NODE_TIMEOUT_MS });
  const clientFor = (node: NodeRef): NodeClient => (node.engine === 'triton' ? triton : vllm);
  const directory = new NodeDirectory(config.GENIE_NODES, clientFor, config.GENIE_NODE_PROBE_INTERVAL_MS, log);
  await directory.start();
  return {
    config,
    log,
    orm,
    directory,
    clientFor,
    close: async () => {
      directory.stop();
      await orm.close();
    },
  };
}
