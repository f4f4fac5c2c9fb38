import type { apiProfileScenario } from './scenarios/api-profile.js';
import type { asyncRatesScenario } from './scenarios/async-rates.js';
import type { cpuPerCompletionScenario } from './scenarios/cpu-per-completion.js';
import type { floorCpuScenario } from './scenarios/floor-cpu.js';
import type { peerCpuScenario } from './scenarios/peer-cpu.js';
import type { temporalFloorScenario } from './scenarios/temporal-floor.js';

// The markdown sections on what one durable completion costs: CPU per process, the 202 under open-loop
// load, Temporal's floor per workflow shape, and where the API's CPU goes.

export interface CostFigures {
  cpu?: Awaited<ReturnType<typeof cpuPerCompletionScenario>>;
  asyncRates?: Awaited<ReturnType<typeof asyncRatesScenario>>;
  temporalFloor?: Awaited<ReturnType<typeof temporalFloorScenario>>;
  floorCpu?: Awaited<ReturnType<typeof floorCpuScenario>>;
  peerCpu?: Awaited<ReturnType<typeof peerCpuScenario>>;
  apiProfile?: Awaited<ReturnType<typeof apiProfileScenario>>['summary'];
  added?: { genie: { syncP50: number; ttftP50: number }; portkey?: { syncP50: number; ttftP50: number } };
  latencyFloor?: { toGenerateP50: number } | null;
  designFloor?: {
    latency: { added: { syncP50: number; ttftP50: number }; starts: { eagerFraction: number | null } };
    cpu: { n: number; concurrency: number; msPerRequest: Record<string, number> };
    maxRateAtP99Under100ms: number;
  };
}

const ratio = (a: number, b: number) => (b > 0 ? round2(a / b) : '—');
const f = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '—' : String(x));

export function costSections(r: CostFigures): string[] {
  const out: string[] = [];
  if (r.designFloor && r.added && r.latencyFloor) {
    const d = r.designFloor;
    const g = r.added.genie;
    const dc = d.cpu.msPerRequest;
    out.push(
      '## The floor of the design (bench/design-floor.ts, the same latency rounds)',
      '',
      'HTTP in (express), an eager start of a one-step workflow whose local activity reserves the budget, calls the node and settles with the statements Genie runs, then answers. Nothing else: no auth lookup, validation, search attributes, summaries, details, placement, logs or metrics.',
      '',
      '| added over direct, p50 (ms) | Temporal alone (shape (b) start → generate) | design floor | Genie | Genie ÷ design floor | Portkey |',
      '|---|---|---|---|---|---|',
      `| sync | ${r.latencyFloor.toGenerateP50} | ${d.latency.added.syncP50} | ${g.syncP50} | ${ratio(g.syncP50, d.latency.added.syncP50)} | ${f(r.added.portkey?.syncP50)} |`,
      `| time to first token | ${r.latencyFloor.toGenerateP50} | ${d.latency.added.ttftP50} | ${g.ttftP50} | ${ratio(g.ttftP50, d.latency.added.ttftP50)} | ${f(r.added.portkey?.ttftP50)} |`,
      '',
      `Design floor CPU per sync (${d.cpu.n} at concurrency ${d.cpu.concurrency}): its process ${f(dc.process)} ms (stands for Genie's API + worker), Postgres ${f(dc.postgres)}, Temporal server ${f(dc.temporal)}. Eager starts: ${f(d.latency.starts.eagerFraction ?? undefined)}. Its max rate with p99 ≤ 100 ms in the sweep: ${d.maxRateAtP99Under100ms} req/s.`,
      '',
    );
  }
  if (r.cpu) {
    const { cpu } = r;
    const procs = Object.keys(cpu.sync.msPerCompletion);
    out.push(
      `## CPU per completion (ms, /proc, ${cpu.batch} completions at concurrency ${cpu.concurrency}, until every workflow closed)`,
      '',
      `| | ${procs.join(' | ')} | Genie-owned (${cpu.genieOwnedProcesses.join(' + ')}) | all | idle-stack share of Genie-owned | completions/s | history events |`,
      `|---|${procs.map(() => '---').join('|')}|---|---|---|---|---|`,
      ...(['sync', 'async'] as const).map((m) => {
        const b = cpu[m];
        return `| ${m} | ${procs.map((p) => b.msPerCompletion[p]).join(' | ')} | **${b.genieOwnedMs}** | ${b.allProcessesMs} | ${round2(b.genieOwnedMs - b.genieOwnedNetOfIdleMs)} | ${b.completionsPerSecond} | ${b.historyEvents} |`;
      }),
      `| idle ms/s | ${procs.map((p) => cpu.idleMsPerSecond[p]).join(' | ')} | | | | | |`,
      '',
      `\`genieOwnedCpuMsPerSync\` ${cpu.genieOwnedCpuMsPerSync} ms (goal ≤ 10), async ${cpu.genieOwnedCpuMsPerAsync} ms. Clock ticks of ${1000 / cpu.clockTicksPerSecond} ms.`,
      '',
    );
    if (r.floorCpu) {
      const fc = r.floorCpu;
      const row = (what: string, floor: number, genie: number, peer?: number) => `| ${what} | ${floor} | ${genie} | ${round2(genie - floor)} | ${f(peer)} |`;
      const asyncGenie = cpu.async.msPerCompletion;
      out.push(
        `Split against Temporal alone, measured the same way: ${fc.n} workflows per shape at concurrency ${fc.concurrency} in a process pinned and set up like the API (eager starts, workflow tasks on the main thread, lean sandbox), no work inside; the async shape's activity runs on a second task queue in that process. A plain gateway's CPU per request (same sync requests, same concurrency) beside it.`,
        '',
        '| ms per completion | Temporal alone (floor shape) | Genie | Genie beyond the floor | a plain gateway (Portkey) |',
        '|---|---|---|---|---|',
        row('sync: API process (floor (b): admit → generate → settle local)', fc.localActivitiesEager.processMs, cpu.sync.msPerCompletion.api, r.peerCpu?.msPerRequest),
        row('sync: Temporal server', fc.localActivitiesEager.temporalMs, cpu.sync.msPerCompletion.temporal),
        row('async: API + worker (floor: admit local → activity on another queue → settle, webhook local)', fc.asyncShape.processMs, round2(asyncGenie.api + asyncGenie.worker)),
        row('async: Temporal server', fc.asyncShape.temporalMs, asyncGenie.temporal),
        '',
        `Floor rates on this core (closed loop, concurrency ${fc.concurrency}): shape (b) ${fc.localActivitiesEager.workflowsPerSecond}/s, the async shape ${fc.asyncShape.workflowsPerSecond}/s, an empty eager workflow ${fc.emptyEager.workflowsPerSecond}/s (${fc.emptyEager.processMs} ms in its process, ${fc.emptyEager.temporalMs} ms in the server). Eager starts: ${fc.localActivitiesEager.eagerFraction} / ${fc.asyncShape.eagerFraction} / ${fc.emptyEager.eagerFraction}.`,
        '',
      );
    }
  }
  if (r.asyncRates) {
    out.push(
      `## Async 202 at fixed open-loop rates (${r.asyncRates.seconds} s each; every webhook awaited between rates)`,
      '',
      '| offered (req/s) | sent | errors | 202 p50 / p99 (ms) | accept→webhook p50 / p99 (ms) | jobs/s with webhook | delivered |',
      '|---|---|---|---|---|---|---|',
      ...r.asyncRates.points.map((p) => `| ${p.rate} | ${p.sent} | ${p.errors} | ${f(p.acceptP50)} / ${f(p.acceptP99)} | ${f(p.acceptToWebhookP50)} / ${f(p.acceptToWebhookP99)} | ${p.jobsPerSecond} | ${p.webhooksDeliveredFraction} |`),
      '',
    );
  }
  if (r.temporalFloor) {
    const t = r.temporalFloor;
    out.push(
      `## Temporal floor per workflow shape (same server, same run, ${t.runs} runs each, no work inside)`,
      '',
      '| shape | start → activity / generate p50 / p99 (ms) | start → result p50 / p99 (ms) | eager starts | history events |',
      '|---|---|---|---|---|',
      `| (a) empty, eager | | ${f(t.emptyEager.totalP50)} / ${f(t.emptyEager.totalP99)} | ${t.emptyEager.eagerFraction} | ${t.emptyEager.historyEvents} |`,
      `| (b) admit → generate → settle as local activities, eager | ${f(t.localActivitiesEager.toGenerateP50)} / ${f(t.localActivitiesEager.toGenerateP99)} | ${f(t.localActivitiesEager.totalP50)} / ${f(t.localActivitiesEager.totalP99)} | ${t.localActivitiesEager.eagerFraction} | ${t.localActivitiesEager.historyEvents} |`,
      `| (c) one regular activity, dispatched (today) | ${f(t.oneActivity.toActivityP50)} / ${f(t.oneActivity.toActivityP99)} | ${f(t.oneActivity.totalP50)} / ${f(t.oneActivity.totalP99)} | ${t.oneActivity.eagerFraction} | ${t.oneActivity.historyEvents} |`,
      '',
      `Genie's added sync p50 ${f(r.added?.genie.syncP50)} ms and added TTFT p50 ${f(r.added?.genie.ttftP50)} ms, against (b)'s start → generate p50 ${f(t.localActivitiesEager.toGenerateP50)} ms.`,
      '',
      ...(t.emptyEagerBurst
        ? [
            `Ceiling of a workflow per job: ${t.emptyEagerBurst.n} empty eager workflows, ${t.emptyEagerBurst.concurrency} in flight: ${t.emptyEagerBurst.workflowsPerSecond} workflows/s, start p50 / p99 ${f(t.emptyEagerBurst.startP50)} / ${f(t.emptyEagerBurst.startP99)} ms, start → result p50 / p99 ${f(t.emptyEagerBurst.totalP50)} / ${f(t.emptyEagerBurst.totalP99)} ms (eager ${t.emptyEagerBurst.eagerFraction}).`,
            '',
          ]
        : []),
    );
  }
  if (r.apiProfile) {
    const p = r.apiProfile;
    out.push(
      `## Where the API's CPU goes (V8 profile over ${p.seconds} s: ${p.requests} requests, ${p.modes.join('/')} interleaved, concurrency ${p.concurrency})`,
      '',
      `${p.busyMs} ms sampled busy in JS threads (${p.threads.map((t) => `${t.thread} ${t.busyMs} ms`).join(', ')}; ${p.samples} samples every ${p.samplingIntervalUs} µs, idle not counted; wall-clock samples, so on the shared core preemption counts as busy). ${p.apiCpuMsPerRequest} ms API CPU per request from /proc over the window (all threads — also Temporal's Rust core and libuv, which V8 does not sample — profiler overhead included; compare the CPU table above). Flame graph: \`latest.api-flame.svg\`.`,
      '',
      '| # | function (self time; a native one named with its JS caller) | owner | ms | % |',
      '|---|---|---|---|---|',
      ...p.topFunctions.map((t, i) => `| ${i + 1} | \`${t.name.replace(/\|/g, '\\|')}\` | ${t.owner} | ${t.selfMs} | ${t.percent} |`),
      '',
      `By owner (self time): ${p.byOwner.slice(0, 12).map((o) => `${o.name} ${o.percent}%`).join(', ')}.`,
      '',
    );
  }
  return out;
}

const round2 = (x: number) => +x.toFixed(2);
