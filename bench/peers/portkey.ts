import { spawn } from 'node:child_process';
import path from 'node:path';
import { waitReady, type Managed } from '../../workers/stack/processes.js';
import { ROOT } from '../../workers/stack/processes.js';

/**
 * The Portkey open-source gateway (npm `@portkey-ai/gateway`, installed in bench/ with its own lockfile;
 * `@hono/node-server` is pinned to 2.1.9 by an override there, or its streaming breaks on Node 20).
 * Requests reach the simulator through `x-portkey-provider: openai` + `x-portkey-custom-host`.
 */
export async function startPortkey(port: number): Promise<Managed> {
  const entry = path.join(ROOT, 'bench/node_modules/@portkey-ai/gateway/build/start-server.js');
  const child = spawn(process.execPath, [entry, `--port=${port}`, '--headless'], {
    cwd: path.join(ROOT, 'bench'),
    env: { ...process.env, NODE_ENV: 'production', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Portkey prints no JSON; wrap its "Ready" line into the launcher's ready protocol.
  const managed = await waitReady('portkey', child, 'Ready for connections', undefined, 30_000, (line) => line.includes('Ready for connections'));
  return managed;
}

export function portkeyHeaders(simulatorUrl: string): Record<string, string> {
  return { authorization: 'Bearer unused', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${simulatorUrl}/v1` };
}
