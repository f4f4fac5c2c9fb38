import { Resolver } from 'node:dns';
import { z } from 'zod';
import { msToNumber } from '@temporalio/common';
import { parseNodeList } from '../activities/nodes/node-list.js';

// Every setting is an env var with a sane default; parsed once, failing fast with the variable's name.
const port = z.coerce.number().int().min(0).max(65535);
const commaList = () =>
  z
    .string()
    .default('')
    .transform((s) => s.split(',').map((item) => item.trim()).filter(Boolean));

export const configSchema = z.object({
  GENIE_PORT: port.default(8080),
  GENIE_HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z.string().default('postgres://postgres:postgres@127.0.0.1:55432/genie'),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  GENIE_NODES: z
    .string()
    .default('vllm=http://127.0.0.1:9101,triton=http://127.0.0.1:9102')
    .transform((s, ctx) => {
      try {
        return parseNodeList(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    }),
  GENIE_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.-]+$/).optional(),
  GENIE_ADMIN_TOKEN: z.string().min(16).optional(),
  /**
   * Each API caches resolved API keys (an LRU of at most GENIE_AUTH_CACHE_MAX_KEYS) for this long: a
   * revoked key is refused by every API within it. 0 = look every key up on every request.
   */
  GENIE_AUTH_CACHE_TTL_MS: z.coerce.number().int().nonnegative().default(10_000),
  GENIE_AUTH_CACHE_MAX_KEYS: z.coerce.number().int().positive().default(10_000),
  /** The worker's Prometheus endpoint (the API serves /metrics on GENIE_PORT); 0 picks a free port. */
  GENIE_METRICS_PORT: port.default(9464),
  /**
   * APIs also run workflow tasks (on the shared queue) and start sync/stream workflows eagerly: the first
   * workflow task comes back in the start call instead of through a dispatch (−50 ms added p50, bench/).
   */
  GENIE_API_EAGER_START: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /**
   * An API's workflow-task slots: a caller-held completion keeps its task (and so a slot) for as long as
   * it generates, and a start finding no free slot is silently not eager (genie_workflow_starts_total
   * counts it). Size it above the streams one API holds at once.
   */
  /**
   * Workflow-task timeout of a sync or stream completion, whose first task lasts as long as it generates
   * (the SDK heartbeats the task at 80 % of this). Longer: a starved API is late, not replaced; shorter:
   * the completion of a crashed API is settled sooner.
   */
  GENIE_CALLER_HELD_TASK_TIMEOUT_MS: z.coerce.number().int().min(1000).default(20_000),
  /**
   * Where an API runs its workflow tasks: `main` (its event loop; the SDK calls this debugMode) saves the
   * hand-off of every activation to a worker thread — ≈ 2 ms of API CPU per sync completion, measured —
   * at the price of workflow code sharing the loop with HTTP (it is a few ms per completion either way).
   * Workers keep the SDK's thread.
   */
  GENIE_API_WORKFLOW_THREAD: z.enum(['main', 'worker']).default('main'),
  GENIE_API_WORKFLOW_TASK_SLOTS: z.coerce.number().int().min(8).default(1024),
  /** A prebuilt workflow bundle (workers/workflow-bundle.ts; the launcher writes one): no bundling at start. */
  GENIE_WORKFLOW_BUNDLE: z.string().optional(),
  /** No deadlock watchdog and no stack-trace hook in the workflow sandbox: less CPU per workflow task (patches/README.md). */
  GENIE_LEAN_WORKFLOW_SANDBOX: z.enum(['true', 'false']).default('true').transform((v) => v === 'true'),
  /** SIGTERM: how long in-flight streams and activities may run on before the process exits anyway. */
  /** How often an API checks Postgres and Temporal (a down one makes new completions a fast 503). */
  GENIE_DEPENDENCY_CHECK_MS: z.coerce.number().int().positive().default(1000),
  /** After SIGTERM, an API keeps accepting (its /healthz already 503 "draining") this long, for load balancers to notice. */
  GENIE_DRAIN_DELAY_MS: z.coerce.number().int().nonnegative().default(0),
  GENIE_SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(30_000),
  GENIE_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Which fleet of the node registry this deployment uses (deployments sharing a Postgres stay apart). */
  GENIE_FLEET: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('default'),
  /** A JSON file of static nodes `[{name, url, engine}]`, registered at worker start like GENIE_NODES. */
  GENIE_NODES_FILE: z.string().optional(),
  /** How often each process re-reads the node registry. */
  GENIE_REGISTRY_REFRESH_MS: z.coerce.number().int().positive().default(1000),
  /** How often the probe schedule runs, and how long a probe's one-token completion may take. */
  GENIE_PROBE_INTERVAL_MS: z.coerce.number().int().min(1000).default(5000),
  GENIE_PROBE_TIMEOUT_MS: z.coerce.number().int().positive().default(3000),
  /** Sync/stream admission: how long to wait for a saturated fleet before 429, and what saturated means. */
  GENIE_ADMISSION_TIMEOUT_MS: z.coerce.number().int().nonnegative().default(2000),
  GENIE_SATURATION_WAITING: z.coerce.number().int().positive().default(16),
  /** Node selection: load-aware power of two choices, or round-robin (the benchmark's baseline). */
  GENIE_SELECTION: z.enum(['p2c', 'round-robin']).default('p2c'),
  GENIE_NODE_TIMEOUT_MS: z.coerce.number().int().positive().default(120_000),
  /**
   * An async job (or batch line) whose next attempt finds no healthy node — its worker was lost, or its
   * node failed — while a node that may come back (down, draining) serves its model waits for one this
   * long, durably, before it fails with the last attempt's error: a 202 said it would complete.
   */
  GENIE_ASYNC_NODE_WAIT_MS: z.coerce.number().int().nonnegative().default(600_000),
  /**
   * A streaming node answer (vLLM streams, every Triton call) that sends nothing for this long — before
   * its first token or between two — is given up: failed over while no token reached the caller, else
   * ended with the inline 503. Long prefills and queues on busy nodes must fit in it.
   */
  GENIE_NODE_STALL_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** Idle keep-alive sockets to nodes are closed after this, before the engine's own idle close (vLLM/uvicorn: 5 s). */
  GENIE_NODE_IDLE_SOCKET_MS: z.coerce.number().int().positive().default(4000),
  /** max_tokens for a request that sets none: what the node may produce, and so what is reserved. */
  GENIE_DEFAULT_MAX_TOKENS: z.coerce.number().int().positive().default(4096),
  /** How long an Idempotency-Key names its job; keep Temporal's namespace retention at least this long. */
  GENIE_IDEMPOTENCY_TTL_HOURS: z.coerce.number().positive().default(24),
  /**
   * Models served without a price row that are free on purpose (comma-separated, `*` for all): any other
   * unpriced model is refused at admission. An admin can also mark one free with a 0/0 price.
   */
  GENIE_FREE_MODELS: commaList(),
  /**
   * The budget sweeper (a Temporal Schedule every worker start creates or updates): how often it looks
   * for reservations whose completion workflow closed without settling (terminated, timed out), and how
   * old one must be before it is looked at. The grace leaves a node call that outlives its terminated
   * workflow (up to GENIE_NODE_TIMEOUT_MS) the time to settle what it produced itself.
   */
  GENIE_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).default(60_000),
  GENIE_SWEEP_GRACE_MS: z.coerce.number().int().nonnegative().default(120_000),
  /**
   * The retention sweeper (a Temporal Schedule every worker start creates or updates, every
   * GENIE_RETENTION_SWEEP_INTERVAL_MS): webhook secrets and keyed streams' records older than
   * GENIE_RETENTION_HOURS are deleted (a secret only once its workflow is no longer running: its webhook
   * retries need it), and so are the line rows of batches ended longer ago, expired files, and
   * Idempotency-Keys past GENIE_IDEMPOTENCY_TTL_HOURS. Unset, the retention
   * is the key's lifetime, the least it may be: a keyed stream is replayed from its record while its key lives.
   */
  GENIE_RETENTION_HOURS: z.coerce.number().positive().optional(),
  GENIE_RETENTION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1000).default(600_000),
  /**
   * The Batch API: lines of one batch running at once, lines of all of one org's batches running at once
   * (shared evenly among its unfinished batches), and lines a batch workflow run starts before it
   * continues as new (its history stays a few thousand events whatever the batch's size). Low by
   * default: at 16 a batch raised interactive sync p99 5.4× on the 2-core bench, at 4 by 1.4× (for
   * about a fifth fewer lines per second; 1.1× with GENIE_BATCH_YIELD_MS below); raise them where the
   * fleet and Temporal have room.
   */
  GENIE_BATCH_CONCURRENCY: z.coerce.number().int().positive().default(4),
  GENIE_BATCH_ORG_CONCURRENCY: z.coerce.number().int().positive().default(8),
  GENIE_BATCH_LINES_PER_RUN: z.coerce.number().int().min(10).default(200),
  /**
   * Interactive first: while an API process took a sync or stream completion within the last 2 s, each
   * batch line waits this long before its completion starts (once per line, so a batch always moves:
   * at most GENIE_BATCH_CONCURRENCY lines per wait under constant interactive traffic). 0 turns it off.
   */
  GENIE_BATCH_YIELD_MS: z.coerce.number().int().min(0).default(2000),
  /**
   * How long a batch has to finish (`completion_window` "24h": 86400000). Lines not finished by then are
   * expired, the batch ends `expired`. Shorter for tests, or for ops who want batches to give up sooner;
   * the batch object still says "24h", the caller's only choice.
   */
  GENIE_BATCH_COMPLETION_WINDOW_MS: z.coerce.number().int().min(1000).default(86_400_000),
  /** Prefixes every task queue: isolates deployments sharing one Temporal namespace (tests, canaries). */
  GENIE_TASK_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]*$/).default(''),
  /** SSE comment interval while a stream waits for its first token, so proxies keep the connection. */
  GENIE_SSE_KEEPALIVE_MS: z.coerce.number().int().positive().default(5000),
  /** Hosts (names or literal IPs) webhooks may target even if private/loopback. Production: none. */
  GENIE_WEBHOOK_ALLOW_HOSTS: commaList(),
  /**
   * One attempt's whole request (DNS, connect, answer). Below a minute: an attempt is a local activity
   * with a 1 min start-to-close timeout (workflows/webhook-delivery.ts), and one cut by that timeout
   * would be retried at once, outside the receiver's schedule.
   */
  GENIE_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().max(50_000).default(10_000),
  /**
   * DNS servers for webhook hosts (`ip` or `ip:port`, comma-separated); empty: the system's
   * (resolv.conf). Names in /etc/hosts are answered from it first, as the system resolver does.
   */
  GENIE_WEBHOOK_DNS_SERVERS: commaList().superRefine((servers, ctx) => {
    try {
      new Resolver().setServers(servers); // c-ares' own parser: what it refuses here, it would at start
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `DNS servers as ip or ip:port ([ipv6]:port), comma-separated: ${(e as Error).message}` });
    }
  }),
  /** How long resolving one webhook host may take (a caller can choose a slow domain on purpose). */
  GENIE_WEBHOOK_DNS_TIMEOUT_MS: z.coerce.number().int().positive().default(2000),
  /** Delay before each attempt (Svix's schedule by default); compressed in tests. */
  GENIE_WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .default('0s,5s,5m,30m,2h,5h,10h,10h')
    .transform((s, ctx) => {
      try {
        return s.split(',').map((d) => msToNumber(d.trim() as Parameters<typeof msToNumber>[0]));
      } catch {
        ctx.addIssue({ code: 'custom', message: 'a comma-separated list of durations such as 0s,5s,5m' });
        return z.NEVER;
      }
    })
    .pipe(z.array(z.number().int().nonnegative()).min(1)),
}).superRefine((c, ctx) => {
  if (c.GENIE_RETENTION_HOURS !== undefined && c.GENIE_RETENTION_HOURS < c.GENIE_IDEMPOTENCY_TTL_HOURS) {
    ctx.addIssue({
      code: 'custom',
      path: ['GENIE_RETENTION_HOURS'],
      message: `must be at least GENIE_IDEMPOTENCY_TTL_HOURS (${c.GENIE_IDEMPOTENCY_TTL_HOURS}): a keyed stream is replayed from its record while its key lives`,
    });
  }
});

export type Config = z.infer<typeof configSchema>;

/** How long webhook secrets and stream records are kept: GENIE_RETENTION_HOURS, else the Idempotency-Key's lifetime. */
export const retentionMs = (c: Config): number => (c.GENIE_RETENTION_HOURS ?? c.GENIE_IDEMPOTENCY_TTL_HOURS) * 3_600_000;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
