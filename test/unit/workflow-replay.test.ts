import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { ROOT } from '../../workers/stack/processes.js';

// Workflows in flight when a new version deploys replay on the new code. The fixture is the history of
// an async job with a webhook whose first attempt was refused, recorded on dd0754f (before an async
// job's projection moved into its admission, settlement and webhook steps): it has projectJob steps of
// its own, and must replay on today's chatCompletion without a nondeterminism error (the
// `async-steps-folded` patch keeps that path for it).

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    /* installed already in this worker */
  }
});

const replay = (fixture: string) => {
  const history = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures', fixture), 'utf8'));
  expect(history.events.length).toBeGreaterThan(5);
  return Worker.runReplayHistory({ workflowsPath: path.join(ROOT, 'workflows/index.ts') }, history);
};

// Each history must replay on today's workflow code without a nondeterminism error.
it.each([
  ['an async job recorded before the folded steps (dd0754f: projectJob steps of its own)', ['async-job-history-dd0754f.json']],
  // A batch (3 lines) recorded on dd0754f, before the completion window became a durable timer
  // (`batch-expiry-timer` keeps the old path for it), and one recorded with the timer.
  ['a batch recorded before the expiry timer, and one recorded with it', ['batch-history-dd0754f.json', 'batch-history-timed.json']],
  // A sync and a stream completion recorded on ed9fe19, before the first attempt's admission moved into
  // `serveHere`: their admit and generateHere steps replay as they ran (their input has no `serveHere`).
  ['a sync and a stream completion recorded with admission as a step of its own', ['sync-completion-history-admit-step.json', 'stream-completion-history-admit-step.json']],
  // The same two recorded with `serveHere` (one step): a later change must keep them replaying too.
  ['a sync and a stream completion recorded with serveHere', ['sync-completion-history-serve-here.json', 'stream-completion-history-serve-here.json']],
  // The same job recorded on the folded code (with the patch marker): a later change must keep it replaying too.
  ['an async job recorded with the folded steps', ['async-job-history-folded.json']],
  // And recorded since its input says the steps are folded (no patch marker, no TemporalChangeVersion upsert).
  ['an async job whose input says its steps are folded', ['async-job-history-steps-folded.json']],
  // Budgets deferred in a batch: a line run that was refused by a minute cap, waited for its reset and
  // continued as new; and a batch cancelled while a line waited, which signals its running lines.
  ['a deferred batch line and a batch whose cancel woke a waiting line', ['batch-line-history-deferred.json', 'batch-history-cancel-wakes.json']],
])('replays %s', async (_what, fixtures) => {
  for (const fixture of fixtures) await expect(replay(fixture)).resolves.toBeUndefined();
}, 120_000);
