import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// CPU time of processes from /proc/<pid>/stat. A process's line covers all its threads (Temporal's
// Rust core threads, libuv's pool). Each process counts its whole tree: Postgres forks a backend per
// connection, and children's times move into the parent's cutime/cstime once reaped — so summing
// utime+stime+cutime+cstime over the live tree, before and after, counts a backend that exited in
// between exactly once.

export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface Stat { ppid: number; ticks: number }

function readStats(): Map<number, Stat> {
  const out = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const line = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name sits in parentheses and may itself hold spaces or ')': fields start after the last ')'.
      const f = line.slice(line.lastIndexOf(')') + 2).split(' ');
      out.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      /* the process exited while we listed /proc */
    }
  }
  return out;
}

function treeTicks(stats: Map<number, Stat>, root: number): number {
  const children = new Map<number, number[]>();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  let ticks = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    todo.push(...(children.get(pid) ?? []));
  }
  return ticks;
}

/** CPU milliseconds used so far by each named process and its descendants. */
export function cpuMs(pids: Record<string, number | null>): Record<string, number> {
  const stats = readStats();
  return Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid ? (treeTicks(stats, pid) * 1000) / CLK_TCK : 0]));
}

/** after − before, per process. */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(before).map((k) => [k, after[k] - before[k]]));
}
