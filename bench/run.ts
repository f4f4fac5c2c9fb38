import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../workers/stack/free-port.js';
import { ROOT } from '../workers/stack/processes.js';
import { memoryOf } from './memory.js';
import { launchBenchStack, pinTargets, simulatorUrl } from './bench-stack.js';
import { portkeyHeaders, startPortkey } from './peers/portkey.js';
import { markdown, plotSweep } from './report.js';
import { collapsed } from './cpuprofile.js';
import { renderFlameGraph } from './flame-graph.js';
import { apiProfileScenario } from './scenarios/api-profile.js';
import { asyncScenario } from './scenarios/async-jobs.js';
import { asyncRatesScenario } from './scenarios/async-rates.js';
import { batchScenario } from './scenarios/batch.js';
import { cpuPerCompletionScenario } from './scenarios/cpu-per-completion.js';
import { floorCpuScenario, spawnFloorProcess } from './scenarios/floor-cpu.js';
import { peerCpuScenario, requestCpuScenario } from './scenarios/peer-cpu.js';
import { budgetTenantsScenario } from './scenarios/budget-tenants.js';
import { latencyScenario } from './scenarios/latency.js';
import { sweepScenario } from './scenarios/sweep.js';
import { placementScenario } from './scenarios/placement.js';
import { temporalFloorScenario } from './scenarios/temporal-floor.js';
import { round } from './stats.js';
import type { Target } from './target.js';

// Side-by-side benchmark in one invocation: the same requests straight to the simulator (D), through
// the Portkey gateway (P) and through Genie (G); then what one durable completion costs: CPU per
// process per completion, the async 202 at fixed open-loop rates, Temporal's floor per workflow shape,
// and a profile of the API under load (flame graph, .cpuprofile per thread, collapsed stacks).
// Every Genie request must be a real workflow: the run fails if the number of chatCompletion
// workflows differs from the Genie requests sent.
// Usage: node --import tsx bench/run.ts [--rounds 7] [--per-round 5] [--jobs 100] [--sweep-seconds 2]
//        [--cpu-batch 100] [--rate-seconds 3] [--no-pin]

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1] || 0) || dflt;
const rounds = Math.max(7, arg('--rounds', 7));
const perRound = arg('--per-round', 5);
const jobs = arg('--jobs', 100);
const sweepSeconds = arg('--sweep-seconds', 2);
const cpuBatch = arg('--cpu-batch', 100);
const rateSeconds = arg('--rate-seconds', 3);
const pin = !process.argv.includes('--no-pin') && os.cpus().length >= 2 && spawnSync('taskset', ['-V']).status === 0;
const RATES = [5, 10, 20, 40, 80, 160, 320, 640];
const ASYNC_RATES = [10, 20, 40, 80];

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'genie-bench-'));
chmodSync(dataDir, 0o777);
// The API listens for a debugger on loopback, so its profile can cover just a load window (api-profile.ts).
const inspectPort = await freePort();
const stack = await launchBenchStack(dataDir, { env: { GENIE_WEBHOOK_RETRY_SCHEDULE: '0s,500ms,1s,2s' }, apiNodeArgs: [`--inspect=127.0.0.1:${inspectPort}`] });
const portkeyPort = await freePort();
const portkey = await startPortkey(portkeyPort);
const connection = await Connection.connect({ address: stack.temporalAddress });
const client = new Client({ connection, namespace: stack.namespace });
try {
  const simUrl = simulatorUrl(stack);
  const targets: Target[] = [
    { name: 'direct', url: `${simUrl}/v1/chat/completions`, headers: {}, pids: { simulator: stack.pids.simulator } },
    { name: 'portkey', url: `http://127.0.0.1:${portkeyPort}/v1/chat/completions`, headers: portkeyHeaders(simUrl), pids: { portkey: portkey.child.pid!, simulator: stack.pids.simulator } },
    { name: 'genie', url: `${stack.apiUrl}/v1/chat/completions`, headers: { authorization: `Bearer ${stack.apiKey}` }, pids: { ...stack.pids } },
  ];
  if (pin) pinTargets([stack.pids.api, stack.pids.worker, stack.pids.simulator, stack.pids.temporal, stack.pids.postgres, portkey.child.pid]);
  const idleMemory = Object.fromEntries(targets.map((t) => [t.name, memoryOf(t.pids)]));
  // Temporal alone, in a process pinned and set up like the API: its latency in the latency rounds, its CPU below.
  // It also serves the floor of Genie's design (design-floor.ts) on the same database, key and node.
  const floorProcess = await spawnFloorProcess({
    temporalAddress: stack.temporalAddress,
    namespace: stack.namespace,
    pinCore: pin ? '1' : null,
    design: { databaseUrl: stack.databaseUrl, apiKey: stack.apiKey, nodeUrl: simUrl },
  });
  const designTarget: Target = { name: 'designFloor', url: `${floorProcess.designUrl}/v1/chat/completions`, headers: {}, pids: { floor: floorProcess.pid } };
  const floorProbe = async (n: number, moveOn: boolean) => (await floorProcess.run('floorLocal', n, 1, moveOn)).toGenerateMs;
  const latency = await latencyScenario([...targets, designTarget], rounds, perRound, floorProbe);
  const designFloorLatency = { ...latency.figures.designFloor, added: latency.added.designFloor!, starts: (await (await fetch(`${floorProcess.designUrl}/stats`)).json()) as { starts: number; eager: number; eagerFraction: number | null } };
  const sweep = await sweepScenario([...targets, designTarget], RATES, sweepSeconds);
  const asyncJobs = await asyncScenario(stack.apiUrl, stack.apiKey, jobs, 20);
  const genie = { apiUrl: stack.apiUrl, apiKey: stack.apiKey };
  const asyncRates = await asyncRatesScenario(genie, ASYNC_RATES, rateSeconds);
  // 150 interactive requests each way: with 60, "p99" was the single slowest request of either set.
  const batch = await batchScenario(genie, jobs * 3, 150);
  const cpuPids = { api: stack.pids.api, worker: stack.pids.worker, postgres: stack.pids.postgres, temporal: stack.pids.temporal, simulator: stack.pids.simulator };
  const cpu = await cpuPerCompletionScenario({ genie, pids: cpuPids, client, n: cpuBatch, concurrency: 4, idleSeconds: 3 });
  // The same CPU split for Temporal alone (a process pinned and set up like the API) and for a plain gateway.
  const floorCpu = await floorCpuScenario({ floor: floorProcess, temporalPid: stack.pids.temporal, n: cpuBatch * 2, concurrency: 4 });
  // The design floor's CPU per sync completion, split as Genie's is (its process stands for API + worker).
  const designFloorCpu = await requestCpuScenario(designTarget, { process: floorProcess.pid, postgres: stack.pids.postgres, temporal: stack.pids.temporal }, cpuBatch, 4);
  await floorProcess.stop();
  const peerCpu = await peerCpuScenario(targets[1], portkey.child.pid!, cpuBatch, 4);
  const budgets = await budgetTenantsScenario(stack.databaseUrl, jobs * 5, 32);
  const placement = await placementScenario(stack, 12, sweepSeconds * 3);
  const temporalFloor = await temporalFloorScenario(stack.temporalAddress, stack.namespace, rounds * perRound);
  // Last: the profiler's own cost must not land in any figure above.
  const apiProfile = await apiProfileScenario({ genie, client, apiPid: stack.pids.api, inspectPort, perMode: Math.ceil(cpuBatch / 2), concurrency: 4, samplingIntervalUs: 1000 });

  const { count } = await client.workflow.count('WorkflowType = "chatCompletion"');
  const sent =
    latency.genieRequests + sweep.genieRequests + jobs + asyncRates.genieRequests + batch.genieRequests + cpu.genieRequests + placement.roundRobin.requests + placement.loadAware.requests + apiProfile.genieRequests;

  const addedOrFloor = (x: number) => Math.max(x, 0.01); // a peer adding ~0 ms must not divide by zero
  const ratios = {
    ttftAddedGenieOverPortkey: round(latency.added.genie.ttftP50 / addedOrFloor(latency.added.portkey.ttftP50)),
    syncAddedP50GenieOverPortkey: round(latency.added.genie.syncP50 / addedOrFloor(latency.added.portkey.syncP50)),
    throughputGenieOverPortkey: round(sweep.throughputAtP99Under100ms.genie / Math.max(sweep.throughputAtP99Under100ms.portkey, 1)),
    webhooksDeliveredFraction: asyncJobs.webhooksDeliveredFraction,
    // Genie's added latency over the floor of its shape (eager start, local activities), the floor sampled
    // in the same rounds from a process placed as the API is (before 2026-12-02: temporal-floor.ts's
    // shape (b), run minutes later from the load generator's core; on a host that drifts, not the same minutes).
    genieSyncAddedOverFloor: round(latency.added.genie.syncP50 / latency.floor!.toGenerateP50),
    genieTtftAddedOverFloor: round(latency.added.genie.ttftP50 / latency.floor!.toGenerateP50),
    // Over the floor of the design (design-floor.ts, the same rounds): what Genie's own code and metadata
    // add to what any implementation of the contract must do (eager start, reserve, node call, settle).
    genieSyncAddedOverDesignFloor: round(latency.added.genie.syncP50 / addedOrFloor(designFloorLatency.added.syncP50)),
    genieTtftAddedOverDesignFloor: round(latency.added.genie.ttftP50 / addedOrFloor(designFloorLatency.added.ttftP50)),
    throughputDesignFloorOverPortkey: round(sweep.throughputAtP99Under100ms.designFloor / Math.max(sweep.throughputAtP99Under100ms.portkey, 1)),
    designFloorTtftAddedOverPortkey: round(designFloorLatency.added.ttftP50 / addedOrFloor(latency.added.portkey.ttftP50)),
    genieOwnedCpuOverDesignFloor: round(cpu.sync.genieOwnedMs / (designFloorCpu.msPerRequest.process + designFloorCpu.msPerRequest.postgres)),
    // CPU: the API's per sync completion over what the SDK alone spends on the same shape in the same way.
    apiCpuOverFloorCpu: round(cpu.sync.msPerCompletion.api / floorCpu.localActivitiesEager.processMs),
    // What a running batch costs interactive callers (sync p99, concurrency 4), and how fast it runs.
    batchSyncP99DuringOverAlone: batch.syncP99DuringBatchOverAlone,
    batchSyncP50DuringOverAlone: batch.syncP50DuringBatchOverAlone,
    batchLinesPerSecond: batch.linesPerSecond,
  };
  const at = new Date().toISOString();
  const figures = Object.fromEntries(
    targets.map((t) => [
      t.name,
      { ...latency.figures[t.name], maxRateAtP99Under100ms: sweep.throughputAtP99Under100ms[t.name], idleRssMiB: sum(idleMemory[t.name]), loadedRssMiB: sum(sweep.memoryUnderLoad[t.name]) },
    ]),
  );
  const result = {
    at,
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, pinned: pin },
    versions: { portkey: '1.15.2', temporalCli: '1.9.1', temporalSdk: '1.24.0' },
    settings: { rounds, perRound, jobs, sweepSeconds, rates: RATES, cpuBatch, rateSeconds, asyncRates: ASYNC_RATES, simulator: { ttftMs: 20, itlMs: 5 } },
    ratios,
    figures,
    added: latency.added,
    /** Shape (b)'s start → generate in the latency rounds, from a process placed as the API is: the ratios' denominator. */
    latencyFloor: latency.floor,
    /** The design floor in the same rounds: figures, added over direct, and how many of its starts were eager. */
    designFloor: { latency: designFloorLatency, cpu: designFloorCpu, maxRateAtP99Under100ms: sweep.throughputAtP99Under100ms.designFloor },
    sweep: sweep.curves,
    memory: { idle: idleMemory, underLoad: sweep.memoryUnderLoad },
    async: asyncJobs,
    asyncRates,
    batch,
    cpu,
    floorCpu,
    peerCpu,
    budgets,
    placement,
    temporalFloor,
    apiProfile: apiProfile.summary,
    workflows: { started: count, genieRequests: sent },
  };
  const outDir = path.join(ROOT, 'bench/results');
  mkdirSync(outDir, { recursive: true });
  const stem = path.join(outDir, at.replace(/[:.]/g, '-'));
  writeFileSync(`${stem}.json`, JSON.stringify(result, null, 2));
  writeFileSync(`${stem}.md`, markdown(result));
  writeFileSync(`${stem}.png`, await plotSweep(sweep.curves));
  const p = apiProfile.summary;
  const flame = await renderFlameGraph(
    apiProfile.stacks,
    `Genie API under load: ${p.requests} requests (sync, stream, async interleaved) at concurrency ${p.concurrency}, ${p.seconds} s`,
    `${p.busyMs} ms busy in JS threads, sampled every ${p.samplingIntervalUs} µs (${p.samples} samples; idle excluded); ${p.apiCpuMsPerRequest} ms API CPU per request from /proc, profiler included — ${at}`,
  );
  writeFileSync(`${stem}.api-flame.svg`, flame.svg);
  writeFileSync(`${stem}.api-flame.png`, flame.png);
  writeFileSync(`${stem}.api-flame.collapsed`, collapsed(apiProfile.stacks));
  // One .cpuprofile per thread (main, then the SDK's workflow thread): each opens in Chrome DevTools or speedscope.
  const profileFiles = apiProfile.profiles.map((t, i) => {
    writeFileSync(`${stem}.api-thread${i}.cpuprofile`, JSON.stringify(t.profile));
    return `api-thread${i}.cpuprofile`;
  });
  // A run that profiled fewer threads than the last one must not leave that run's extra profiles as latest.
  for (const f of readdirSync(outDir)) if (/^latest\.api-thread\d+\.cpuprofile$/.test(f)) rmSync(path.join(outDir, f));
  for (const ext of ['json', 'md', 'png', 'api-flame.svg', 'api-flame.png', 'api-flame.collapsed', ...profileFiles]) copyFileSync(`${stem}.${ext}`, path.join(outDir, `latest.${ext}`));
  console.log(markdown(result));
  if (count !== sent) throw new Error(`${count} chatCompletion workflows for ${sent} Genie requests`);
} finally {
  await connection.close();
  await portkey.stop();
  await stack.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

function sum(m: Record<string, number | null> | undefined): number | null {
  if (!m) return null;
  const xs = Object.values(m).filter((x): x is number => x !== null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) : null;
}
