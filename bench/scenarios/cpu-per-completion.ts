import type { Client } from '@temporalio/client';
import { completionsSettled } from '../completions-settled.js';
import { historyLength } from '../history-length.js';
import { closedLoop, sendGenie, type GenieMode, type GenieRefs } from '../genie-client.js';
import { CLK_TCK, cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';
import { startWebhookReceiver } from '../webhook-receiver.js';

// What one durable completion costs in CPU, per process: a fixed batch of sync (then async) requests
// at low concurrency, /proc CPU time of every process before and after, divided by the batch. The
// window closes once every workflow has closed (and, async, every webhook arrived), so the work after
// the caller's answer counts too. The idle stack's own burn (pollers, probes, the dev server's timers)
// over the same window is reported beside it, not subtracted from the headline figure.

/** Genie's own processes: what a deployment of Genie pays for (the node and Temporal are not Genie's). */
const GENIE_OWNED = ['api', 'worker', 'postgres'] as const;

const perProcess = (ms: Record<string, number>, n: number) => Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, round(v / n)]));
const genieOwned = (ms: Record<string, number>) => round(GENIE_OWNED.reduce((a, k) => a + (ms[k] ?? 0), 0));

export async function cpuPerCompletionScenario(opts: { genie: GenieRefs; pids: Record<string, number | null>; client: Client; n: number; concurrency: number; idleSeconds: number }) {
  const { genie, pids, client, n, concurrency } = opts;
  const receiver = await startWebhookReceiver();
  try {
    await completionsSettled(client);
    const idleStart = cpuMs(pids);
    await new Promise((r) => setTimeout(r, opts.idleSeconds * 1000));
    const idlePerSecond = Object.fromEntries(Object.entries(cpuDelta(idleStart, cpuMs(pids))).map(([k, v]) => [k, v / opts.idleSeconds]));

    const batch = async (mode: GenieMode) => {
      const before = cpuMs(pids);
      const t0 = performance.now();
      const answers = await closedLoop(n, concurrency, (i) => sendGenie(genie, mode, `cpu ${mode} ${i}`, receiver.url));
      const want = mode === 'async' ? 202 : 200;
      const bad = answers.find((a) => a.status !== want);
      if (bad) throw new Error(`cpu batch: ${mode} answered ${bad.status}`);
      if (mode === 'async') await receiver.waitFor(answers.map((a) => a.id!));
      await completionsSettled(client);
      const used = cpuDelta(before, cpuMs(pids));
      const seconds = (performance.now() - t0) / 1000;
      const msPerCompletion = perProcess(used, n);
      const idleMsPerCompletion = perProcess(Object.fromEntries(Object.entries(idlePerSecond).map(([k, v]) => [k, v * seconds])), n);
      return {
        seconds: round(seconds),
        completionsPerSecond: round(n / seconds),
        msPerCompletion,
        /** The idle stack's burn over the same window, per completion: already inside msPerCompletion. */
        idleMsPerCompletion,
        genieOwnedMs: genieOwned(msPerCompletion),
        genieOwnedNetOfIdleMs: round(genieOwned(msPerCompletion) - genieOwned(idleMsPerCompletion)),
        allProcessesMs: round(Object.values(msPerCompletion).reduce((a, b) => a + b, 0)),
        historyEvents: await historyLength(client, answers[0].id!),
      };
    };
    const sync = await batch('sync');
    const async = await batch('async');
    return {
      batch: n,
      concurrency,
      clockTicksPerSecond: CLK_TCK,
      genieOwnedProcesses: GENIE_OWNED,
      genieOwnedCpuMsPerSync: sync.genieOwnedMs,
      genieOwnedCpuMsPerAsync: async.genieOwnedMs,
      idleMsPerSecond: Object.fromEntries(Object.entries(idlePerSecond).map(([k, v]) => [k, round(v)])),
      sync,
      async,
      genieRequests: 2 * n,
    };
  } finally {
    await receiver.close();
  }
}
