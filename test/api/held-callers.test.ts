import { CallerRegistry } from '../../api/completion/held-callers.js';
import { SHUTTING_DOWN } from '../../activities/inference/held-caller.js';

// The trouble mark decides whether a caller-held completion's API long-polls the Temporal server for
// the workflow's outcome (api/completion/service.ts): it must settle for the caller's own completion
// only, and never for a keyed duplicate that holds nothing.

const settled = (p: Promise<void>) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
const syncAnswer = () => ({ kind: 'sync' as const, deliver: () => undefined, fail: () => undefined });

describe('CallerRegistry: trouble marks and the shutdown cut', () => {
  it('settles the hold of the completion marked, not the others', async () => {
    const callers = new CallerRegistry();
    const a = callers.hold('chatcmpl-a', syncAnswer());
    const b = callers.hold('chatcmpl-b', syncAnswer());
    callers.troubled('chatcmpl-a');
    callers.troubled('chatcmpl-unknown');
    expect(await settled(a.troubled)).toBe(true);
    expect(await settled(b.troubled)).toBe(false);
  });

  it('a keyed duplicate of a held completion is never marked, and a released hold no longer is', async () => {
    const callers = new CallerRegistry();
    const first = callers.hold('chatcmpl-k', syncAnswer());
    const duplicate = callers.hold('chatcmpl-k', syncAnswer());
    first.release();
    callers.troubled('chatcmpl-k');
    expect(await settled(first.troubled)).toBe(false);
    expect(await settled(duplicate.troubled)).toBe(false);
  });

  it('after the shutdown cut, a request still arriving is held already aborted (503, shutting down), never left running unwatched', () => {
    const callers = new CallerRegistry();
    const before = callers.hold('chatcmpl-before', syncAnswer());
    callers.shutdown();
    const late = callers.hold('chatcmpl-late', syncAnswer());
    expect([before.signal.reason, late.signal.reason]).toEqual([SHUTTING_DOWN, SHUTTING_DOWN]);
  });

  it('holds a sync or stream caller until its release, never an async request (serveHere admits only for a held caller)', () => {
    const callers = new CallerRegistry();
    const sync = callers.hold('chatcmpl-s', syncAnswer());
    callers.hold('chatcmpl-a', { kind: 'async', admitted: () => undefined });
    expect([callers.holds('chatcmpl-s'), callers.holds('chatcmpl-a'), callers.holds('chatcmpl-none')]).toEqual([true, false, false]);
    sync.release();
    expect(callers.holds('chatcmpl-s')).toBe(false);
  });
});
