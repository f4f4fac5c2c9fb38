import express, { Router } from 'express';
import { pinoHttp } from 'pino-http';
import type { Client } from '@temporalio/client';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { NodeDirectory } from '../activities/nodes/node-directory.js';
import { GenieError } from '../protocol/errors.js';
import { MAX_REQUEST_BODY_BYTES } from '../protocol/request-limits.js';
import type { CompletionService } from './completion/service.js';
import type { JobService } from './jobs.js';
import type { BatchService } from './batches.js';
import type { FileStore } from '../db/file-store.js';
import { MAX_FILE_BYTES } from '../protocol/files.js';
import { filesRoute } from './routes/files.js';
import { batchesRoute } from './routes/batches.js';
import { requireAdmin } from './middleware/admin-auth.js';
import { authenticate, type AuthCacheOptions } from './middleware/auth.js';
import { findPrincipalByKey } from '../db/api-keys.js';
import { errorMapper } from './middleware/error-mapper.js';
import { chatCompletionsRoute } from './routes/chat-completions.js';
import { healthRoute } from './routes/health.js';
import { jobsRoute } from './routes/jobs.js';
import { modelsRoute } from './routes/models.js';
import { meRoute } from './routes/me.js';
import { docsPageRoute } from './routes/docs-page.js';
import { openApiRoute } from './routes/openapi.js';
import { adminTenancyRoute } from './routes/admin/tenancy.js';
import { adminBudgetsRoute } from './routes/admin/budgets.js';
import type { BudgetStore } from '../db/budget-store.js';
import type { PersonaCache } from './personas.js';
import { adminPersonasRoute } from './routes/admin/personas.js';
import { adminNodesRoute } from './routes/admin/nodes.js';
import { adminKeysRoute } from './routes/admin/keys.js';
import type { GenieMetrics } from '../activities/metrics.js';
import { requestMetrics } from './middleware/request-metrics.js';
import { PERSONA_ALIASES } from '../db/personas.js';
import { metricsRoute } from './routes/metrics.js';
import type { DependencyMonitor } from './dependency-monitor.js';
import { requireDependencies } from './middleware/require-dependencies.js';

export interface ApiDeps {
  orm: MikroORM;
  temporal: Client;
  directory: NodeDirectory;
  completions: CompletionService;
  jobs: JobService;
  batches: BatchService;
  files: FileStore;
  budgets: BudgetStore;
  personas: PersonaCache;
  fleet: string;
  probeNodes(): Promise<unknown>;
  log: Logger;
  adminToken?: string;
  /** The resolved-key cache of /v1 (GENIE_AUTH_CACHE_*): its TTL bounds how long a revoked key still works. */
  authCache?: AuthCacheOptions;
  metrics: GenieMetrics;
  /** Postgres and Temporal as this process last saw them (/healthz, the completions gate). */
  dependencies: DependencyMonitor;
  /** True once SIGTERM arrived: /healthz answers 503 so load balancers stop sending new requests. */
  draining?: () => boolean;
  /** Runs before each /metrics scrape (drains the Temporal runtime's metric buffer). */
  beforeScrape?: () => void;
}

/** The express edge, without listening: tests and the process entrypoint both mount it. */
export function createApp(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a proxy on a private network (docker/nginx), the scheme a caller used comes from
  // X-Forwarded-Proto: the docs page's examples then show https:// where the proxy terminates TLS.
  app.set('trust proxy', 'loopback, linklocal, uniquelocal');
  app.set('etag', false);
  // One access-log line per request, with the completion id once the route chose it; the request
  // logger (res.log) carries a request id onto every other line of that request.
  app.use(
    pinoHttp({
      logger: deps.log,
      // pino serializes a child's bindings when the child is made: a request logger bound to the whole
      // request cost ~0.8 ms of CPU per request even when no line was written. The request's logger
      // carries its id only; the access line gets the request when, and only if, it is written.
      quietReqLogger: true,
      quietResLogger: true,
      customSuccessObject: (req, _res, line) => ({ req, ...line }),
      customErrorObject: (req, _res, _err, line) => ({ req, ...line }),
      customProps: (_req, res) => (res.locals?.completionId ? { completionId: res.locals.completionId } : {}),
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  // Bounded by what a workflow can carry (protocol/request-limits.ts): a larger body is a 413 here.
  app.use(express.json({ limit: MAX_REQUEST_BODY_BYTES }));
  app.use(metricsRoute(deps.metrics.registry, deps.beforeScrape));
  app.use(healthRoute(deps.dependencies, deps.draining));
  app.use(openApiRoute()); // /openapi.json and /docs: public, before the /v1 key check
  app.use(docsPageRoute()); // `/` (the docs page with "Try it") and its /assets: public

  const v1 = Router();
  v1.use(authenticate((key) => findPrincipalByKey(deps.orm.em.fork(), key), deps.authCache));
  const isServed = (model: string) => PERSONA_ALIASES.includes(model as never) || deps.directory.snapshot().some((n) => n.models.includes(model));
  v1.use('/chat/completions', requestMetrics(deps.metrics, isServed), requireDependencies(deps.dependencies));
  v1.use(chatCompletionsRoute(deps.completions, deps.log));
  v1.use(modelsRoute(deps.directory, deps.personas));
  v1.use(jobsRoute(deps.jobs));
  v1.use(filesRoute(deps.files, MAX_FILE_BYTES));
  v1.use(batchesRoute(deps.batches));
  v1.use(meRoute());
  app.use('/v1', v1);
  // The docs page's widget calls the same handlers under /api/v1, as on the seed page.
  app.use('/api/v1', v1);

  const admin = Router();
  admin.use(requireAdmin(deps.adminToken));
  admin.use(adminTenancyRoute(deps.orm));
  admin.use(adminKeysRoute(deps.orm));
  admin.use(adminBudgetsRoute(deps.orm, deps.budgets));
  admin.use(adminPersonasRoute(deps.orm));
  admin.use(adminNodesRoute({ orm: deps.orm, fleet: deps.fleet, directory: deps.directory, probeNodes: deps.probeNodes }));
  app.use('/admin/v1', admin);

  app.use((req, _res, next) => next(GenieError.notFound(`Unknown route: ${req.method} ${req.path}`)));
  app.use(errorMapper(deps.log, deps.metrics, deps.dependencies));
  return app;
}
