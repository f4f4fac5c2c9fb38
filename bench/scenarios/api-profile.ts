import type { Client } from '@temporalio/client';
import { profileOverCdp } from '../cdp-profiler.js';
import { completionsSettled } from '../completions-settled.js';
import { selfTime, stacksOf } from '../cpuprofile.js';
import { closedLoop, sendGenie, type GenieMode, type GenieRefs } from '../genie-client.js';
import { cpuDelta, cpuMs } from '../proc-cpu.js';
import { round } from '../stats.js';
import { startWebhookReceiver } from '../webhook-receiver.js';

// Where the API's CPU goes under load: V8's sampling profiler in the API process (started with
// --inspect on loopback) for exactly the window of `perMode` sync, stream and async requests each,
// interleaved, at a fixed concurrency, until every webhook arrived and every workflow closed. The
// profiler itself costs CPU (sampling every 1 ms about 1.5× the API's CPU per request, every 250 µs
// about 2×), so this runs after the scenarios whose CPU and latency are figures.

const MODES: GenieMode[] = ['sync', 'stream', 'async'];

export async function apiProfileScenario(opts: { genie: GenieRefs; client: Client; apiPid: number; inspectPort: number; perMode: number; concurrency: number; samplingIntervalUs: number }) {
  const receiver = await startWebhookReceiver();
  try {
    await completionsSettled(opts.client);
    const before = cpuMs({ api: opts.apiPid });
    const t0 = performance.now();
    const { profiles } = await profileOverCdp(opts.inspectPort, opts.samplingIntervalUs, async () => {
      const answers = await closedLoop(opts.perMode * MODES.length, opts.concurrency, (i) => sendGenie(opts.genie, MODES[i % MODES.length], `profile ${i}`, receiver.url));
      const bad = answers.find((a, i) => a.status !== (MODES[i % MODES.length] === 'async' ? 202 : 200));
      if (bad) throw new Error(`profile load answered ${bad.status}`);
      await receiver.waitFor(answers.filter((_, i) => MODES[i % MODES.length] === 'async').map((a) => a.id!));
      await completionsSettled(opts.client);
    });
    const seconds = (performance.now() - t0) / 1000;
    const apiCpuMs = cpuDelta(before, cpuMs({ api: opts.apiPid })).api;
    const threads = profiles.map(({ thread, profile }) => ({ thread, samples: profile.samples?.length ?? 0, ...stacksOf(profile, thread) }));
    const stacks = threads.flatMap((t) => t.stacks);
    const requests = opts.perMode * MODES.length;
    const summary = {
      requests,
      modes: MODES,
      concurrency: opts.concurrency,
      samplingIntervalUs: opts.samplingIntervalUs,
      seconds: round(seconds),
      samples: threads.reduce((a, t) => a + t.samples, 0),
      /** From /proc over the window, every thread (also those V8 does not sample: Temporal's core, libuv), the profiler included. */
      apiCpuMsPerRequest: round(apiCpuMs / requests),
      /** Per JS thread: time sampled busy (wall-clock, so preemption counts), and time spent waiting. */
      threads: threads.map((t) => ({ thread: t.thread, busyMs: round(t.stacks.reduce((a, s) => a + s.us, 0) / 1000), idleMs: round(t.idleUs / 1000), samples: t.samples })),
      ...selfTime(stacks, 15),
    };
    return { summary, profiles, stacks, genieRequests: requests };
  } finally {
    await receiver.close();
  }
}
