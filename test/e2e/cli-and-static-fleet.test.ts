import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listNodes, upsertNode } from '../../db/nodes.js';
import { openOrm } from '../../db/orm.js';
import { loadConfig } from '../../workers/config.js';
import { registerStaticNodes } from '../../workers/deps.js';
import { ROOT } from '../../workers/stack/processes.js';
import { testStack } from '../support/stack.js';

const genie = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'workers/cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_OPTIONS: '', GENIE_URL: testStack().apiUrl, GENIE_ADMIN_TOKEN: testStack().adminToken },
    encoding: 'utf8',
  });

describe('the genie CLI over the admin API', () => {
  it('creates a tenant, sets a cap and reads usage back', () => {
    const org = JSON.parse(genie('org', 'create', `cli-${Date.now()}`).stdout);
    const user = JSON.parse(genie('user', 'create', `cli-${Date.now()}@genie.test`).stdout);
    const member = JSON.parse(genie('member', 'add', org.id, user.id).stdout);
    const app = JSON.parse(genie('app', 'create', org.id, 'cli-app').stdout);
    const key = JSON.parse(genie('key', 'create', app.id, member.id).stdout);
    expect(key.key).toMatch(/^sk-genie-/);
    expect(genie('cap', 'set', 'org', org.id, 'day', '123456').status).toBe(0);
    expect(JSON.parse(genie('usage', 'org', org.id, 'day').stdout)).toMatchObject({ limitMicroUsd: 123456, spentMicroUsd: 0 });
    const bad = genie('cap', 'set', 'galaxy', org.id, 'day', '1');
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).error.param).toBe('layer');
    expect(genie('nonsense').status).toBe(2);
  });
});

describe('a static fleet from GENIE_NODES_FILE', () => {
  it('registers every node of the file in the deployment’s fleet, idempotently', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-nodes-'));
    const file = path.join(dir, 'nodes.json');
    writeFileSync(file, JSON.stringify([{ name: 'gpu-a', url: 'http://127.0.0.1:1', engine: 'vllm' }, { name: 'gpu-b', url: 'http://127.0.0.1:2', engine: 'triton' }]));
    const fleet = `static-${Date.now()}`;
    const config = loadConfig({ DATABASE_URL: testStack().databaseUrl, GENIE_FLEET: fleet, GENIE_NODES: '', GENIE_NODES_FILE: file });
    const orm = await openOrm(testStack().databaseUrl, 2);
    try {
      await registerStaticNodes(orm, config);
      await registerStaticNodes(orm, config);
      const nodes = await listNodes(orm.em.fork(), fleet);
      expect(nodes.map((n) => [n.name, n.engine, n.url, n.capabilities])).toEqual([
        ['gpu-a', 'vllm', 'http://127.0.0.1:1', ['tools', 'json_object', 'json_schema']],
        ['gpu-b', 'triton', 'http://127.0.0.1:2', []],
      ]);
    } finally {
      await orm.close();
    }
  });

  it('removes static nodes the list no longer names, never a node added through the admin API', async () => {
    const fleet = `static-${Date.now()}`;
    const config = (nodes: string) => loadConfig({ DATABASE_URL: testStack().databaseUrl, GENIE_FLEET: fleet, GENIE_NODES: nodes });
    const orm = await openOrm(testStack().databaseUrl, 2);
    try {
      // What a plain `make dev` leaves in its Postgres, and an operator's own node beside it.
      expect(await registerStaticNodes(orm, config('sim-vllm:vllm=http://127.0.0.1:9101,sim-triton:triton=http://127.0.0.1:9102'))).toEqual([]);
      await upsertNode(orm.em.fork(), fleet, { name: 'added', url: 'http://127.0.0.1:3', engine: 'vllm' });
      // The next start is given other nodes: the earlier static ones go, the admin's stays.
      expect(await registerStaticNodes(orm, config('gpu1:vllm=http://127.0.0.1:4'))).toEqual(['sim-triton', 'sim-vllm']);
      expect((await listNodes(orm.em.fork(), fleet)).map((n) => n.name)).toEqual(['added', 'gpu1']);
    } finally {
      await orm.close();
    }
  });
});
