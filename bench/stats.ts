/** Nearest-rank percentile, rounded to 0.01 ms. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2);
}

export const round = (x: number) => +x.toFixed(2);
