import { execFileSync } from 'node:child_process';

// bench/ttft-marks.patch puts marks along a stream's path for bench/ttft-trace.ts. It lives beside the
// code it patches, so a change to those lines must refresh it (apply it, move the marks, `git diff`
// again): this fails the day it no longer applies, instead of the day someone needs the trace.
test('bench/ttft-marks.patch applies to the tree', () => {
  expect(() => execFileSync('git', ['apply', '--check', 'bench/ttft-marks.patch'], { stdio: 'pipe' })).not.toThrow();
});
