// Where Genie's API spends CPU per sync completion beyond the floor of its design (design-floor.ts), side by
// side: V8's sampling profiler (every 500 µs, over CDP) in Genie's API and in the design floor's process, each
// alone on core 1 while every other process (this load generator, the worker, Temporal, Postgres, the node)
// runs on core 0, so a sample is that process's own CPU and not a wait for the core. N sequential sync
// requests per target, two rounds each, alternating. Prints /proc CPU (every thread, the profiler's own
// sampling included: several times the unprofiled figure) and sampled busy time per request,
// self time per request by owner (npm package, Genie folder, V8, Node) for both, and, for Genie and the
// floor, their top functions and the top frames inside the sandbox, Node internals, native code and
// @temporalio/common (with the nearest caller that names them).
// Usage: node --import tsx bench/api-vs-floor-profile.ts [N=300]   (make bench's deps installed)
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../workers/stack/free-port.js';
import { launchBenchStack, simulatorUrl } from './bench-stack.js';
import { spawnFloorProcess } from './scenarios/floor-cpu.js';
import { profileOverCdp } from './cdp-profiler.js';
import { selfTime, stacksOf } from './cpuprofile.js';
import { cpuDelta, cpuMs } from './proc-cpu.js';
import { post, type Target } from './target.js';

const N = Number(process.argv[2] ?? 300);
const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-api-vs-floor-'));
chmodSync(dir, 0o777);
const apiPort = await freePort();
const stack = await launchBenchStack(path.join(dir, 'stack'), { apiNodeArgs: [`--inspect=127.0.0.1:${apiPort}`] });
const floorPort = await freePort();
// The floor process is spawned from this one: it inherits the inspector flag, nothing else started later does.
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --inspect=127.0.0.1:${floorPort}`;
const nodeUrl = simulatorUrl(stack);
const floor = await spawnFloorProcess({ temporalAddress: stack.temporalAddress, namespace: stack.namespace, pinCore: null, design: { databaseUrl: stack.databaseUrl, apiKey: stack.apiKey, nodeUrl } });
delete process.env.NODE_OPTIONS;
const others = [process.pid, stack.pids.worker, stack.pids.simulator, stack.pids.temporal, stack.pids.postgres];
for (const pid of others) if (pid) spawnSync('taskset', ['-acp', '0', String(pid)]);
const targets: Array<Target & { pid: number; port: number }> = [
  { name: 'genie', url: `${stack.apiUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${stack.apiKey}` }, pids: {}, pid: stack.pids.api!, port: apiPort },
  { name: 'designFloor', url: `${floor.designUrl}/v1/chat/completions`, headers: {}, pids: {}, pid: floor.pid, port: floorPort },
];
const body = (i: number) => ({ model: 'qwen3:0.6b', messages: [{ role: 'user', content: `profile ${i}` }], max_tokens: 16 });
const results: Record<string, Record<string, number>> = {};
try {
  for (const t of targets) spawnSync('taskset', ['-acp', '1', String(t.pid)]);
  for (const t of targets) for (let i = 0; i < 30; i++) await (await post(t, body(i))).arrayBuffer();
  for (const round of [0, 1]) {
    for (const t of targets) {
      const before = cpuMs({ p: t.pid });
      const { profiles } = await profileOverCdp(t.port, 500, async () => {
        for (let i = 0; i < N; i++) {
          const r = await post(t, body(i));
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`${t.name} ${r.status}`);
        }
        // The last completions' workflows close after their callers were answered: inside the window.
        await new Promise((r) => setTimeout(r, 300));
      });
      const procMs = cpuDelta(before, cpuMs({ p: t.pid })).p / N;
      const stacks = profiles.flatMap(({ thread, profile }) => stacksOf(profile, thread).stacks);
      const st = selfTime(stacks, 40);
      const key = `${t.name}#${round}`;
      results[key] = { '/proc ms': procMs, 'sampled busy ms': st.busyMs / N };
      for (const o of st.byOwner) results[key][o.name] = o.selfMs / N;
      if (round === 1) {
        console.log(`\n== ${t.name} top functions (ms per request)`);
        for (const f of st.topFunctions) console.log(`  ${(f.selfMs / N).toFixed(3)}  ${f.owner}  ${f.name}`);
        for (const owner of ['workflow sandbox', 'node internals', 'native', '@temporalio/common']) {
          const m = new Map<string, number>();
          for (const s of stacks) {
            const leaf = s.frames[s.frames.length - 1];
            if (leaf.owner !== owner) continue;
            // The nearest frame of a package or of Genie's own code says where it came from.
            const from = s.frames.findLast((f) => !['native', 'node internals', 'V8 gc', 'thread', 'workflow sandbox', '@temporalio/common'].includes(f.owner));
            const k = `${leaf.label}  ⟵ ${from?.label ?? '-'}`;
            m.set(k, (m.get(k) ?? 0) + s.us);
          }
          console.log(`  -- ${owner}`);
          for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, 14)) console.log(`    ${(us / 1000 / N).toFixed(3)}  ${k}`);
        }
      }
    }
  }
  const owners = [...new Set(Object.values(results).flatMap((r) => Object.keys(r)))];
  const cols = Object.keys(results);
  console.log(`\n${'owner'.padEnd(32)} ${cols.map((c) => c.padStart(14)).join(' ')}`);
  for (const o of owners.sort((a, b) => (results['genie#1'][b] ?? 0) - (results['genie#1'][a] ?? 0))) console.log(`${o.padEnd(32)} ${cols.map((c) => (results[c][o] ?? 0).toFixed(3).padStart(14)).join(' ')}`);
} finally {
  await floor.stop();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
