import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchStack } from '../workers/stack/launch.js';
import { spawnFloorProcess } from './scenarios/floor-cpu.js';
import { ROOT } from '../workers/stack/processes.js';
import { closedLoop, sendGenie } from './genie-client.js';
import { cpuDelta, cpuMs } from './proc-cpu.js';
import { round } from './stats.js';

// Where the Temporal server's CPU goes per completion: Genie's sync completions beside the floor's
// shape (b) (bench/floor-process.ts: admit → generate → settle as local activities, eager, no work), on
// the same dev server, in interleaved rounds. `perf record` samples the server (on-CPU only), and
// bench/gosym names the frames of the stripped Temporal binary; each sample is counted under the
// request handler (or background task) it serves. Needs perf (root) and Go; takes about two minutes.
// Usage: node --import tsx bench/server-profile.ts [--n 300] [--rounds 2]   → bench/results/server-profile.json

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1] || 0) || dflt;
const n = arg('--n', 300);
const rounds = arg('--rounds', 2);
const HZ = 1999;
const TEMPORAL = path.join(ROOT, '.venv/bin/temporal');

const work = mkdtempSync(path.join(os.tmpdir(), 'genie-server-profile-'));
chmodSync(work, 0o777);
const gosym = path.join(work, 'gosym');
execFileSync('go', ['build', '-o', gosym, '.'], { cwd: path.join(ROOT, 'bench/gosym'), stdio: 'inherit' });

/** What a sample serves: the innermost gRPC handler of the frontend or history service, else a background queue. */
function bucketOf(frames: string[]): string {
  let handler: string | null = null;
  for (const f of frames) {
    const m = /(frontend|history|matching)\.\(\*(?:WorkflowHandler|Handler)\)\.(\w+)/.exec(f);
    if (m) handler = `${m[1]}.${m[2]}`;
  }
  if (handler) return handler;
  const visibility = frames.find((f) => /VisibilityStore\)\.(\w+)/.test(f));
  if (visibility) return `visibility.${/VisibilityStore\)\.(\w+)/.exec(visibility)![1]}`;
  // A history task (transfer, timer, visibility, …): by the executor step it ran, innermost first.
  const task = frames.find((f) => /\(\*\w*TaskExecutor\)\.\w+/.test(f));
  if (task) return `history task: ${/\(\*(\w*TaskExecutor)\)\.(\w+)/.exec(task)!.slice(1).join('.')}`;
  if (frames.some((f) => f.includes('service/history/queues'))) return 'history task queues (loading, acking)';
  if (frames.some((f) => f.startsWith('runtime.gc') || f.startsWith('runtime.bgsweep') || f.startsWith('runtime.bgscavenge'))) return 'Go GC';
  if (frames.some((f) => f.includes('google.golang.org/grpc'))) return 'gRPC transport';
  return 'other';
}

/** perf's samples as frame lists, innermost first, named through gosym. */
function samplesOf(data: string): string[][] {
  const text = execFileSync('perf', ['script', '-i', data, '-F', 'ip'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const samples = text.split(/\n\s*\n/).map((s) => s.split('\n').map((l) => l.trim()).filter(Boolean));
  const offsets = [...new Set(samples.flat().filter((a) => !a.startsWith('ffff')))];
  const names = new Map(
    execFileSync(gosym, [TEMPORAL], { input: offsets.join('\n'), maxBuffer: 1 << 30 })
      .toString()
      .trim()
      .split('\n')
      .map((l) => l.split('\t') as [string, string]),
  );
  return samples.filter((s) => s.length).map((s) => s.map((a) => (a.startsWith('ffff') ? 'kernel' : (names.get(a) ?? '?'))));
}

const dataDir = path.join(work, 'stack');
mkdirSync(dataDir, { mode: 0o777 });
chmodSync(dataDir, 0o777);
const stack = await launchStack({
  dataDir,
  freePorts: true,
  ports: { api: 0, temporal: 0, ui: 0, postgres: 0, vllm: 0, triton: 0, tritonMetrics: 0, workerMetrics: 0 },
  simulator: { ttftMs: 20, itlMs: 5 },
  env: { GENIE_LOG_LEVEL: 'warn' },
  log: () => undefined,
});
const temporalPid = stack.pids.temporal!;
const floor = await spawnFloorProcess({ temporalAddress: stack.temporalAddress, namespace: stack.namespace, pinCore: null });
const shapes = {
  genie: () => closedLoop(n, 4, (i) => sendGenie({ apiUrl: stack.apiUrl, apiKey: stack.apiKey }, 'sync', `server profile ${i}`)).then(() => undefined),
  floor: () => floor.run('floorLocal', n, 4).then(() => undefined),
};
try {
  await shapes.genie(); // warm-up: contexts, connections, the namespace's caches
  await shapes.floor();
  const counts: Record<keyof typeof shapes, Map<string, number>> = { genie: new Map(), floor: new Map() };
  const cpu: Record<keyof typeof shapes, number[]> = { genie: [], floor: [] };
  for (let r = 0; r < rounds; r++) {
    for (const shape of ['genie', 'floor'] as const) {
      const data = path.join(work, `${shape}-${r}.data`);
      const perf = spawn('perf', ['record', '-F', String(HZ), '-g', '-p', String(temporalPid), '-o', data], { stdio: 'ignore' });
      await new Promise((res) => setTimeout(res, 300)); // perf attached
      const before = cpuMs({ temporal: temporalPid });
      await shapes[shape]();
      cpu[shape].push(cpuDelta(before, cpuMs({ temporal: temporalPid })).temporal / n);
      perf.kill('SIGINT');
      await once(perf, 'exit');
      for (const s of samplesOf(data)) {
        const bucket = bucketOf(s);
        counts[shape].set(bucket, (counts[shape].get(bucket) ?? 0) + 1);
      }
    }
  }
  // A sample stands for 1/HZ s of CPU; per completion over every round.
  const msPer = (c: number) => round((c * 1000) / HZ / (n * rounds));
  const buckets = [...new Set([...counts.genie.keys(), ...counts.floor.keys()])]
    .map((name) => ({ name, genieMs: msPer(counts.genie.get(name) ?? 0), floorMs: msPer(counts.floor.get(name) ?? 0) }))
    .map((b) => ({ ...b, extraMs: round(b.genieMs - b.floorMs) }))
    .sort((a, b) => b.genieMs - a.genieMs);
  const result = {
    at: new Date().toISOString(),
    n,
    rounds,
    concurrency: 4,
    serverCpuMsPerCompletion: { genie: cpu.genie.map(round), floor: cpu.floor.map(round) },
    sampledMsPerCompletion: { genie: round(buckets.reduce((a, b) => a + b.genieMs, 0)), floor: round(buckets.reduce((a, b) => a + b.floorMs, 0)) },
    buckets,
  };
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/server-profile.json'), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result.serverCpuMsPerCompletion), JSON.stringify(result.sampledMsPerCompletion));
  for (const b of buckets.slice(0, 20)) console.log(`${b.name.padEnd(48)} genie ${String(b.genieMs).padStart(6)}  floor ${String(b.floorMs).padStart(6)}  extra ${b.extraMs}`);
} finally {
  await floor.stop();
  await stack.stop();
  spawnSync('rm', ['-rf', work]);
}
