import { GenieError } from './errors.js';

// Genie's own dependencies (Postgres, Temporal) being away is neither the caller's fault nor a bug: the
// caller gets an honest 503 with Retry-After, never a 500 and never the dependency's own text (a
// database error can carry SQL and its parameters).

export type Dependency = 'postgres' | 'temporal';

/** Postgres errors that mean "not reachable right now", not "this statement is wrong". */
const PG_UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);
const PG_UNAVAILABLE_MESSAGE = /Connection terminated|connection timeout|Timeout acquiring a connection|server closed the connection|the database system is (starting up|shutting down)|Client has encountered a connection error/i;
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

export function isPostgresUnavailable(e: unknown): boolean {
  for (const o of chain(e)) {
    if (typeof o.code === 'string' && (PG_UNAVAILABLE_CODES.has(o.code) || o.code.startsWith('08'))) return true;
    if (o.name === 'KnexTimeoutError' || o.name === 'ConnectionException') return true;
    if (typeof o.message === 'string' && PG_UNAVAILABLE_MESSAGE.test(o.message)) return true;
  }
  return false;
}

export function isTemporalUnavailable(e: unknown): boolean {
  for (const o of chain(e)) if (o.code === GRPC_UNAVAILABLE && typeof o.details === 'string') return true;
  return false;
}

/** Which dependency an error says is away, if any. */
export function unavailableDependency(e: unknown): Dependency | null {
  if (isTemporalUnavailable(e)) return 'temporal';
  if (isPostgresUnavailable(e)) return 'postgres';
  return null;
}

const NAMES: Record<Dependency, string> = { postgres: 'database', temporal: 'workflow service' };

/** The caller's answer while a dependency is away (an outage is seconds at least: retry in a few). */
export function dependencyDown(d: Dependency): GenieError {
  return GenieError.unavailable(`Genie's ${NAMES[d]} is unavailable right now; retry shortly`, 5);
}
