import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { errorBodyOf, failures, fromFailureValue, readFailure, retryAtOf, toFailureValue } from '../../protocol/failures.js';
import { GenieError } from '../../protocol/errors.js';

// `serveHere` returns its node attempt's failure as a value (the workflow needs what it admitted as
// well); the workflow turns it back into a failure. Read back, it must mean exactly what the thrown one
// meant: the failover loop, the caller's error and the settlement read it with readFailure.

const roundTrip = (e: unknown) => fromFailureValue(JSON.parse(JSON.stringify(toFailureValue(e))));

describe('a failure carried as a value', () => {
  it('reads back as the same kind, body, node verdict and retry hints', () => {
    const body = GenieError.internal('model failed to load').body;
    const node = { failover: true, suspect: false };
    for (const e of [failures.genie(body, node), failures.genie(GenieError.budgetCapHit('org', 'day', '2026-12-03T00:00:00.000Z').body, null, { retryAt: '2026-12-03T00:00:00.000Z' }), failures.genie(GenieError.unavailable('no healthy node').body, null, { nodesMayReturn: true })]) {
      const back = roundTrip(e);
      expect(readFailure(back)).toEqual(readFailure(e));
      expect(errorBodyOf(back)).toEqual(errorBodyOf(e));
      expect(retryAtOf(back)).toBe(retryAtOf(e));
      expect(back.nonRetryable).toBe(true);
    }
    expect(readFailure(roundTrip(failures.genie(body, node)))).toMatchObject({ kind: 'genie', node: { failover: true, suspect: false }, nodesMayReturn: false });
    expect(readFailure(roundTrip(failures.genie(body, null, { nodesMayReturn: true })))).toMatchObject({ kind: 'genie', retryAt: null, nodesMayReturn: true });
  });

  it('keeps what an aborted or cut generation produced, for the settlement', () => {
    const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
    expect(readFailure(roundTrip(failures.aborted(usage)))).toEqual({ kind: 'aborted', usage });
    expect(readFailure(roundTrip(failures.shutdown(usage, GenieError.internal('cut').body)))).toMatchObject({ kind: 'shutdown', usage });
  });

  it('unwraps an activity failure, and makes anything else an unclassified 500 without its message', () => {
    const wrapped = new ActivityFailure('activity failed', 'generateHere', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', failures.aborted({ prompt_tokens: 1, completion_tokens: 0, total_tokens: 1 }));
    expect(readFailure(roundTrip(wrapped)).kind).toBe('aborted');
    const internal = roundTrip(new Error('select * from secrets'));
    expect(readFailure(internal).kind).toBe('other');
    expect(errorBodyOf(internal)).toMatchObject({ status: 500, message: 'internal error' });
    expect(roundTrip(ApplicationFailure.retryable('x', 'DependencyUnavailable')).nonRetryable).toBe(false);
  });
});
