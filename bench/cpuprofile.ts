import { ROOT } from '../workers/stack/processes.js';
import { round } from './stats.js';

// A V8 .cpuprofile (what CDP's Profiler.stop and node --cpu-prof give) turned into the usual views:
// collapsed stacks (one line per stack, `a;b;c <µs>`, as flamegraph.pl and speedscope read them),
// the functions with most self time, and self time by who owns the code.

export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[]; hitCount?: number }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a frame's code comes from: a Genie folder, an npm package, Node itself, or V8. */
export function ownerOf(url: string, name: string): string {
  if (!url) return name === '(garbage collector)' ? 'V8 gc' : name === '(program)' ? 'V8/native (program)' : 'native';
  if (url.startsWith('node:')) return 'node internals';
  // The Temporal SDK runs workflow code from an in-memory bundle inside a vm context.
  if (url.startsWith('evalmachine') || /workflow-bundle[-0-9a-f]*\.js$/.test(url)) return 'workflow sandbox';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = path.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (path.startsWith(ROOT + '/')) return `genie ${path.slice(ROOT.length + 1).split('/')[0]}/`;
  return 'other';
}

function label(f: CpuProfile['nodes'][number]['callFrame']): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  const path = f.url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  const short = nm >= 0 ? path.slice(nm + 'node_modules/'.length) : path.startsWith(ROOT + '/') ? path.slice(ROOT.length + 1) : path;
  return `${name} ${short}:${f.lineNumber + 1}`;
}

export interface Frame { label: string; owner: string; selfUs: number }
export interface Stack { frames: Frame[]; us: number }

/**
 * Every sampled stack, root first, with the time its samples stand for (each sample lasts until the
 * next one). `(idle)` — the thread waiting — is returned apart: it is not CPU. `thread`, when given,
 * becomes the bottom frame, so several threads' profiles share one flame graph.
 */
export function stacksOf(profile: CpuProfile, thread?: string): { stacks: Stack[]; idleUs: number; sampledUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const mean = samples.length ? (profile.endTime - profile.startTime) / samples.length : 0;
  samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (i + 1 < deltas.length ? deltas[i + 1] : mean)));
  let idleUs = 0;
  const stacks: Stack[] = [];
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const frames: Frame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (f.functionName === '(root)') break;
      frames.unshift({ label: label(f), owner: ownerOf(f.url, f.functionName), selfUs: 0 });
    }
    // Neon exports every native function of Temporal's core bridge through one callback, so V8 names
    // them all after one of them (`…::add_metric_counter_value` for a poll or a completion): say what they are.
    for (let i = 1; i < frames.length; i++) {
      if (frames[i].owner === 'native' && frames[i - 1].owner === '@temporalio/core-bridge') frames[i] = { label: 'call into Temporal core (Rust)', owner: 'Temporal core (Rust)', selfUs: 0 };
    }
    if (thread) frames.unshift({ label: thread, owner: 'thread', selfUs: 0 });
    frames[frames.length - 1].selfUs = us;
    stacks.push({ frames, us });
  }
  return { stacks, idleUs, sampledUs: profile.endTime - profile.startTime };
}

/** Brendan Gregg's collapsed format, time in µs; profile nodes that print alike are one line. */
export function collapsed(stacks: Stack[]): string {
  const lines = new Map<string, number>();
  for (const s of stacks) {
    const key = s.frames.map((f) => f.label.replace(/;/g, ',')).join(';');
    lines.set(key, (lines.get(key) ?? 0) + s.us);
  }
  return [...lines].map(([key, us]) => `${key} ${Math.round(us)}`).join('\n') + '\n';
}

/**
 * The `n` functions (name and place) with most self time, and self time by owner, in ms and % of the
 * busy (not idle) time sampled. Samples are wall-clock: on a shared core a thread that is runnable but
 * preempted still counts as busy in whatever frame it was, so shares say more than absolute ms.
 * A native function has no place of its own (`writev`, `(anonymous)`), so its nearest JS caller names it.
 */
export function selfTime(stacks: Stack[], n: number) {
  const cpuUs = stacks.reduce((a, s) => a + s.us, 0);
  const owners = new Map<string, string>();
  const by = (key: (frames: Frame[]) => string) => {
    const m = new Map<string, number>();
    for (const s of stacks) m.set(key(s.frames), (m.get(key(s.frames)) ?? 0) + s.us);
    return [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, selfMs: round(us / 1000), percent: round((100 * us) / cpuUs) }));
  };
  const placeless = new Set(['native', 'Temporal core (Rust)', '@temporalio/core-bridge', 'thread']);
  const fn = (frames: Frame[]) => {
    const leaf = frames[frames.length - 1];
    const caller = leaf.owner === 'native' || leaf.owner === 'Temporal core (Rust)' ? frames.findLast((f) => !placeless.has(f.owner)) : undefined;
    const name = caller ? `${leaf.label} ← ${caller.label}` : leaf.label;
    owners.set(name, leaf.owner);
    return name;
  };
  const topFunctions = by(fn)
    .slice(0, n)
    .map((f) => ({ ...f, owner: owners.get(f.name)! }));
  return { busyMs: round(cpuUs / 1000), topFunctions, byOwner: by((frames) => frames[frames.length - 1].owner) };
}
