import { appendFileSync } from 'node:fs';

// Marks along one stream's path to its first token, for `bench/ttft-trace.ts`. Inert unless a process
// imports this module, which only `bench/ttft-marks.patch` makes Genie's API (and the design floor) do:
// the marks are calls to `globalThis.__gt(name)` at the points the patch names, never in the product.
// Streams are sequential in the latency rounds, so one request is in flight: `in` starts a row, the
// first time of each later mark is kept, and `first` (the first content chunk written) appends the row,
// in ms from `in`, to the file GENIE_TTFT_MARKS names (JSON lines), with `in` and `first` as epoch times.

const file = process.env.GENIE_TTFT_MARKS;
if (!file) throw new Error('bench/ttft-marks: GENIE_TTFT_MARKS names no file');
let row: Record<string, number> | null = null;

(globalThis as { __gt?: (name: string) => void }).__gt = (name) => {
  const t = performance.now();
  if (name === 'in') {
    row = { in: t };
    return;
  }
  if (!row || name in row) return;
  row[name] = t;
  if (name !== 'first') return;
  const start = row.in;
  const marks = Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Math.round((v - start) * 100) / 100]));
  // And when `in` and `first` happened in ms since the epoch, for the segments outside the process.
  appendFileSync(file, `${JSON.stringify({ ...marks, inAt: performance.timeOrigin + start, firstAt: performance.timeOrigin + row.first })}\n`);
  row = null;
};
