import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

export interface ProbeRound {
  at: string;
  probed: number;
  healthy: number;
  rounds: number;
}

/**
 * Probe rounds back to back for `forMs`, one every `intervalMs` (the prober workflow's activity). Each
 * round's summary is the heartbeat, so ops read the fleet's last verdict on the workflow in the UI; a
 * round that throws (the registry unreachable) is logged by the caller's logger and retried next round.
 */
export function createProbeFleetRounds(
  probeNodes: () => Promise<{ probed: number; healthy: number }>,
  intervalMs: number,
  onError: (e: unknown) => void,
  /** This worker is shutting down: hand the prober over now, not when the grace period ends. */
  stopping: AbortSignal = new AbortController().signal,
) {
  return async function probeFleetRounds({ forMs }: { forMs: number }): Promise<ProbeRound | null> {
    const ctx = Context.current();
    const until = Date.now() + forMs;
    const wake = AbortSignal.any([ctx.cancellationSignal, stopping]);
    let last: ProbeRound | null = null;
    let rounds = 0;
    while (Date.now() < until && !wake.aborted) {
      const started = Date.now();
      try {
        const { probed, healthy } = await probeNodes();
        last = { at: new Date().toISOString(), probed, healthy, rounds: ++rounds };
      } catch (e) {
        onError(e);
      }
      ctx.heartbeat(last);
      await sleep(Math.max(0, intervalMs - (Date.now() - started)), undefined, { signal: wake }).catch(() => undefined);
    }
    // A worker shutting down hands the prober to another worker (the retry), not to nobody.
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason ?? new Error('probe rounds cancelled');
    if (stopping.aborted) throw ApplicationFailure.retryable('this worker is shutting down: another worker takes the prober over', 'WorkerStopping');
    return last;
  };
}
