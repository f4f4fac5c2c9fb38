// Where a stream's time to first token goes, mark by mark, in Genie and in the design floor side by
// side: `git apply bench/ttft-marks.patch && node --import tsx bench/ttft-trace.ts [rounds]`, then
// `git apply -R bench/ttft-marks.patch`. The latency rounds of `make bench-quick` (direct, Genie, the
// design floor; pinned as the bench pins them) at one stream at a time; each process writes a row of
// marks per stream (bench/ttft-marks.ts). Prints each mark's p50 in ms after the request reached the
// process, and the same latency ratios as the bench. GENIE_TTFT_ENV='{"GENIE_…":"…"}' passes settings
// to Genie's processes, for an A/B of one setting across two runs.
import { chmodSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchBenchStack, pinTargets, simulatorUrl } from './bench-stack.js';
import { spawnFloorProcess } from './scenarios/floor-cpu.js';
import { latencyScenario } from './scenarios/latency.js';
import { pct } from './stats.js';
import type { Target } from './target.js';

const rounds = Number(process.argv[2] ?? 12);
const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-ttft-'));
chmodSync(dir, 0o777);
const marks = { genie: path.join(dir, 'genie.jsonl'), designFloor: path.join(dir, 'floor.jsonl') };
process.env.GENIE_TTFT_MARKS_FLOOR = marks.designFloor; // the floor process inherits this process's environment
const stack = await launchBenchStack(path.join(dir, 'stack'), { env: { GENIE_TTFT_MARKS: marks.genie, ...(JSON.parse(process.env.GENIE_TTFT_ENV ?? '{}') as Record<string, string>) } });
try {
  const nodeUrl = simulatorUrl(stack);
  pinTargets([stack.pids.api, stack.pids.worker, stack.pids.simulator, stack.pids.temporal, stack.pids.postgres]);
  const floor = await spawnFloorProcess({ temporalAddress: stack.temporalAddress, namespace: stack.namespace, pinCore: '1', design: { databaseUrl: stack.databaseUrl, apiKey: stack.apiKey, nodeUrl } });
  const targets: Target[] = [
    { name: 'direct', url: `${nodeUrl}/v1/chat/completions`, headers: {}, pids: {} },
    { name: 'genie', url: `${stack.apiUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${stack.apiKey}` }, pids: {} },
    { name: 'designFloor', url: `${floor.designUrl}/v1/chat/completions`, headers: {}, pids: {} },
  ];
  const latency = await latencyScenario(targets, rounds, 5);
  await floor.stop();
  for (const [name, file] of Object.entries(marks)) {
    if (!existsSync(file)) throw new Error(`no marks from ${name}: is bench/ttft-marks.patch applied?`);
    // The first fifth warms up (connections, JIT, caches).
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const kept = rows.slice(Math.floor(rows.length / 5));
    const names = [...new Set(kept.flatMap((r) => Object.keys(r)))].filter((m) => !m.endsWith('At'));
    const p50s = names.map((m) => [m, pct(kept.flatMap((r) => (m in r ? [r[m]] : [])), 50)] as const).sort((a, b) => a[1] - b[1]);
    console.log(`\n${name} (${kept.length} streams): ms after the request reached the process, p50`);
    for (const [m, v] of p50s) console.log(`  ${m.padEnd(14)} ${v.toFixed(2).padStart(7)}`);
    // Outside the process: the client's send → `in` (its fetch, the socket, Node's HTTP parser) and the
    // first content chunk written → read by the client. Streams are sequential: the rows after the
    // warm-up's are the rounds' streams, in order.
    const sent = latency.streams[name as 'genie' | 'designFloor'];
    const rounds = rows.slice(rows.length - sent.length);
    const outside = (f: (r: Record<string, number>, i: number) => number) => pct(rounds.map(f), 50).toFixed(2);
    console.log(`  (client send → in ${outside((r, i) => r.inAt - sent[i].sentAt)}; first written → read by the client ${outside((r, i) => sent[i].sentAt + sent[i].ttft - r.firstAt)})`);
  }
  const g = latency.added.genie;
  const d = latency.added.designFloor!;
  console.log(`\nadded over direct, p50: Genie sync ${g.syncP50} ttft ${g.ttftP50}; design floor sync ${d.syncP50} ttft ${d.ttftP50}`);
} finally {
  await stack.stop();
}
process.exit(0);
