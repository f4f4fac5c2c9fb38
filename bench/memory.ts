import { readFileSync } from 'node:fs';

export type MemorySample = Record<string, number | null>;

/** Resident set size (MiB) of a process, from /proc. */
export function rssMiB(pid: number | null): number | null {
  if (!pid) return null;
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Math.round(Number(kb) / 1024) : null;
  } catch {
    return null;
  }
}

export function memoryOf(pids: Record<string, number | null>): MemorySample {
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, rssMiB(pid)]));
}

/** Peak RSS per process over `ms`, sampled every 100 ms. */
export async function sampleMemory(pids: Record<string, number | null>, ms: number): Promise<MemorySample> {
  const peak: MemorySample = memoryOf(pids);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    for (const [k, v] of Object.entries(memoryOf(pids))) if (v !== null && (peak[k] === null || v > peak[k]!)) peak[k] = v;
  }
  return peak;
}
