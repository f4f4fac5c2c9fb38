/**
 * Nearest-rank percentile (the smallest value with at least p % of the samples at or below it), rounded
 * to 0.01 ms: p99 of 100 samples is the 99th, not the largest.
 */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))].toFixed(2);
}

export const round = (x: number) => +x.toFixed(2);
