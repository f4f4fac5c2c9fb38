import { GenieError } from './errors.js';

// Genie's own dependencies (Postgres, Temporal) being away is neither the caller's fault nor a bug: the
// caller gets an honest 503 with Retry-After, never a 500 and never the dependency's own text (a
// database error can carry SQL and its parameters).

export type Dependency = 'postgres' | 'temporal';

/** Postgres errors that mean "not reachable": refused, reset, shut down — the server is away. */
const PG_UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03']);
const PG_UNREACHABLE_MESSAGE = /Connection terminated unexpectedly|server closed the connection|the database system is (starting up|shutting down)|Client has encountered a connection error/i;
/** Postgres errors that mean "did not answer in time" (a full pool, a slow server): a 503 too, but not proof it is away. */
const PG_LATE_CODES = new Set(['ETIMEDOUT', '53300']);
const PG_LATE_MESSAGE = /connection timeout|Timeout acquiring a connection/i;
/** gRPC's UNAVAILABLE: Temporal's frontend cannot be reached. */
const GRPC_UNAVAILABLE = 14;

/** The error and the errors it wraps (mikro-orm, knex, the Temporal client and pg all wrap). */
function* chain(e: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  for (let x = e; typeof x === 'object' && x !== null && !seen.has(x); ) {
    seen.add(x);
    const o = x as Record<string, unknown>;
    yield o;
    x = o.cause ?? o.previous ?? o.originalError;
  }
}

/** Postgres is away (refused, reset, shutting down): what marks it down in an API's monitor. */
export function isPostgresUnreachable(e: unknown): boolean {
  for (const o of chain(e)) {
    if (typeof o.code === 'string' && (PG_UNREACHABLE_CODES.has(o.code) || o.code.startsWith('08'))) return true;
    if (o.name === 'ConnectionException') return true;
    if (typeof o.message === 'string' && PG_UNREACHABLE_MESSAGE.test(o.message)) return true;
  }
  return false;
}

/** Postgres is away or did not answer in time: either way the caller's answer is a 503, never a 500. */
export function isPostgresUnavailable(e: unknown): boolean {
  if (isPostgresUnreachable(e)) return true;
  for (const o of chain(e)) {
    if (typeof o.code === 'string' && PG_LATE_CODES.has(o.code)) return true;
    if (o.name === 'KnexTimeoutError' || (typeof o.message === 'string' && PG_LATE_MESSAGE.test(o.message))) return true;
  }
  return false;
}

export function isTemporalUnavailable(e: unknown): boolean {
  for (const o of chain(e)) if (o.code === GRPC_UNAVAILABLE && typeof o.details === 'string') return true;
  return false;
}

/** Which dependency an error says is unavailable (away, or too late to answer), if any: the caller's 503. */
export function unavailableDependency(e: unknown): Dependency | null {
  if (isTemporalUnavailable(e)) return 'temporal';
  if (isPostgresUnavailable(e)) return 'postgres';
  return null;
}

/** Which dependency an error proves away (not merely late), if any: what an API's monitor marks down. */
export function unreachableDependency(e: unknown): Dependency | null {
  if (isTemporalUnavailable(e)) return 'temporal';
  if (isPostgresUnreachable(e)) return 'postgres';
  return null;
}

const NAMES: Record<Dependency, string> = { postgres: 'database', temporal: 'workflow service' };

/** The caller's answer while a dependency is away (an outage is seconds at least: retry in a few). */
export function dependencyDown(d: Dependency): GenieError {
  return GenieError.unavailable(`Genie's ${NAMES[d]} is unavailable right now; retry shortly`, 5);
}
