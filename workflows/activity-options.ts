import { ActivityCancellationType, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';

// Named timeout/retry profiles (DESIGN §6.5). Temporal owns retries; node clients never retry.

/** Short database / in-memory steps: local activities, retried quickly on transient errors. */
export const shortStep: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '100ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 10 },
};

/**
 * Writes to Postgres that must land however long Postgres is away — settlement, the job projection, a
 * webhook attempt's secret lookup: giving up would leave a reservation held, a job reading stale and a
 * webhook unsent, and all three are idempotent per workflow, so retrying costs nothing but time.
 * Unlimited attempts (a bug that fails every attempt shows as a local activity retrying in the
 * Temporal UI, never as a lost settlement); backoff capped at 30 s, so a Postgres back after an outage
 * is seen within 30 s. The cap must stay below the SDK's local retry threshold (1 min): past it a
 * retry becomes a workflow timer, i.e. new commands in the history of workflows already running.
 * While the attempts go on, the SDK heartbeats the workflow task; nothing else changes in the history.
 */
export const untilPostgresAnswers: LocalActivityOptions = {
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
};

/**
 * The node call. One attempt per node: a failure is either fatal or a reason to select another node,
 * which is the workflow's failover loop, not an activity retry.
 */
export const nodeCall: ActivityOptions = {
  startToCloseTimeout: '10m',
  // Heartbeats are recorded every second but sent throttled (at most every 0.8 × this timeout), so the
  // timeout must leave room for a CPU-starved process: 5 s proved too tight under a 300-request burst.
  // A worker that died is still noticed within 15 s and the attempt retried.
  heartbeatTimeout: '15s',
  retry: { maximumAttempts: 1 },
};

/**
 * When `generate` runs on the API process that holds the caller, a process that is gone must be
 * noticed — but a busy one (hundreds of callers at once on two cores) must not be mistaken for it.
 */
export const callerHeldNodeCall: ActivityOptions = {
  ...nodeCall,
  scheduleToStartTimeout: '60s',
  // An API process holding hundreds of callers on a starved core was seen to accept a `generate` task
  // and send nothing for 15 s (the caller got a 503 while its node was fine). A dead API process is
  // still noticed, 30 s later; its caller's connection died with it anyway.
  heartbeatTimeout: '30s',
};

/**
 * `generateHere`: the node call as a local activity of the workflow task that the API holding the
 * caller started eagerly. No heartbeats exist for local activities: the SDK keeps the workflow task
 * alive instead, so a starved process is late, never mistaken for a dead one. On cancel, wait for the
 * generation to report what it produced (that usage must be settled, the node request seen to stop).
 */
export const callerHeldHere: LocalActivityOptions = {
  startToCloseTimeout: nodeCall.startToCloseTimeout,
  retry: { maximumAttempts: 1 },
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
};
