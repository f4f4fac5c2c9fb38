import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { sseData } from '../../activities/inference/sse.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { api, pollJob } from '../support/jobs.js';
import { sample, scrape } from '../support/prometheus.js';
import { temporalClient, testStack } from '../support/stack.js';
import { waitFor } from '../support/wait-for.js';
import { spawnEntrypoint } from '../../workers/stack/processes.js';

// SIGTERM is how every deploy and scale-in ends a process: it must lose nothing. The API stops
// accepting, lets streams finish (or ends them with an inline error when the grace period runs out);
// a worker finishes its activities (or hands them to another worker when the grace period runs out).

const messages = [{ role: 'user', content: 'a long answer, please' }];
const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code))));

/** Reads an SSE response to its end (with Genie's own SSE reader); `onFirstContent` runs at the first token. */
async function readStream(res: Response, onFirstContent: () => void): Promise<{ text: string; finish: string | null; done: boolean }> {
  let text = '';
  let finish: string | null = null;
  let done = false;
  for await (const data of sseData(res.body as unknown as AsyncIterable<Uint8Array>)) {
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const c = (JSON.parse(data) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }> }).choices[0];
    if (c?.delta.content) {
      if (!text) onFirstContent();
      text += c.delta.content;
    }
    if (c?.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, done };
}

const stream = (base: string, model: string) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
    body: JSON.stringify({ model, messages, max_tokens: 20, stream: true }),
  });

/** How many times `generate` was scheduled for a workflow (a second time = handed to another worker). */
async function generateAttempts(workflowId: string): Promise<number> {
  const { client, close } = await temporalClient();
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    return history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'generate').length;
  } finally {
    await close();
  }
}

/** Who completed the workflow tasks that recorded webhook attempts (local-activity markers). */
async function webhookAttemptIdentities(workflowId: string): Promise<string[]> {
  const { client, close } = await temporalClient();
  try {
    const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events!;
    const completedBy = new Map(events.filter((e) => e.workflowTaskCompletedEventAttributes).map((e) => [String(e.eventId), e.workflowTaskCompletedEventAttributes!.identity ?? '']));
    const payloads = client.options.loadedDataConverter.payloadConverter;
    return events
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .filter((e) => JSON.stringify(payloads.fromPayload(e.markerRecordedEventAttributes!.details!.data!.payloads![0])).includes('"deliverWebhook"'))
      .map((e) => completedBy.get(String(e.markerRecordedEventAttributes!.workflowTaskCompletedEventId)) ?? '?');
  } finally {
    await close();
  }
}

/** The prober workflow's pending `probeFleetRounds`, once `until` holds for it. */
async function proberActivity(workflowId: string, until: (a: { lastWorkerIdentity?: string | null }) => boolean) {
  const { client, close } = await temporalClient();
  try {
    for (let i = 0; ; i++) {
      const desc = await client.workflow.getHandle(workflowId).describe();
      const a = desc.raw.pendingActivities?.find((p) => p.activityType?.name === 'probeFleetRounds');
      if (a && until(a) && (a.lastWorkerIdentity ?? '') !== '') return a;
      if (i > 300) throw new Error(`the prober's activity never moved: ${JSON.stringify(a)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await close();
  }
}

describe('graceful shutdown (SIGTERM)', () => {
  let sim: Simulator, slower: Simulator;
  beforeAll(async () => {
    // 60 ms a token: an answer takes one to two seconds, long enough to be caught mid-flight; 300 ms a
    // token outlasts a 300 ms grace period many times over.
    [sim, slower] = await Promise.all([
      startSimulator({ port: 0, models: ['slow-model'], timeToFirstToken: 50, interTokenLatency: 60 }),
      startSimulator({ port: 0, models: ['slower-model'], timeToFirstToken: 50, interTokenLatency: 300 }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([sim, slower].map((s) => s?.close()));
  });

  describe('within the grace period', () => {
    let genie: IsolatedGenie;
    beforeAll(async () => {
      // A load balancer's 2 s to see /healthz say "draining" before connections are refused.
      genie = await startIsolatedGenie({ nodes: `slow:vllm=${sim.url}`, env: { GENIE_SHUTDOWN_GRACE_MS: '20000', GENIE_DRAIN_DELAY_MS: '2000', GENIE_WEBHOOK_ALLOW_HOSTS: '127.0.0.1' } });
    });
    afterAll(async () => {
      await genie?.stop();
    });

    it('the API says "draining" on /healthz, then stops accepting connections but finishes the streams in flight, then exits 0', async () => {
      const api0 = genie.apis[0];
      // The simulator's text is deterministic: what the node says directly is what the caller must get.
      const direct = (await (await fetch(`${sim.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'slow-model', messages, max_tokens: 100 }) })).json()) as {
        choices: Array<{ message: { content: string }; finish_reason: string }>;
      };
      const res = await stream(genie.apiUrl, 'slow-model');
      let refusedNew: Promise<unknown> = Promise.resolve();
      let sawDraining: Promise<unknown> = Promise.resolve();
      const result = await readStream(res, () => {
        api0.child.kill('SIGTERM');
        // First /healthz turns 503 "draining" while connections are still accepted (GENIE_DRAIN_DELAY_MS)…
        sawDraining = (async () => {
          for (let i = 0; i < 400; i++) {
            const h = await fetch(`${genie.apiUrl}/healthz`).then(async (r) => ({ status: r.status, body: await r.json() }), () => 'refused' as const);
            if (h === 'refused') return h;
            if (h.status === 503) return h;
            await new Promise((r) => setTimeout(r, 25));
          }
          return 'never';
        })();
        // …then new connections are refused (a loaded machine may take a while).
        refusedNew = (async () => {
          for (let i = 0; i < 100; i++) {
            if (await fetch(`${genie.apiUrl}/healthz`).then(() => false, () => true)) return 'refused';
            await new Promise((r) => setTimeout(r, 100));
          }
          return 'accepted';
        })();
      });
      expect(result.text).toBe(direct.choices[0].message.content);
      expect(result.finish).toBe(direct.choices[0].finish_reason);
      expect(result.done).toBe(true);
      expect(await sawDraining).toEqual({ status: 503, body: { status: 'draining' } });
      expect(await refusedNew).toBe('refused');
      expect(await exited(api0.child)).toBe(0);
    });

    it('the server answers a stopping worker\'s polls empty (fewer tasks matched to a poll the worker then drops)', async () => {
      // Without it, a `generate` matched at the moment of SIGTERM sat until its heartbeat timeout and ran
      // a second time elsewhere (seen on CI). The SDK uses it whenever the namespace advertises it.
      const { client, close } = await temporalClient();
      try {
        const d = await client.workflowService.describeNamespace({ namespace: client.options.namespace });
        expect(d.namespaceInfo?.capabilities?.workerPollCompleteOnShutdown).toBe(true);
      } finally {
        await close();
      }
    });

    it('a worker finishes the node calls it holds before it exits 0; the jobs complete, no node call cut', async () => {
      const base = await liveApi(genie);
      const cutNodeCalls = async () => sample(await scrape(sim.metricsUrl), 'genie_sim_requests_aborted_total', { model_name: 'slow-model' });
      const cutBefore = await cutNodeCalls();
      const jobs = await Promise.all(
        Array.from({ length: 3 }, async () => (await api('/v1/chat/completions', { base, body: { model: 'slow-model', messages, max_tokens: 60, mode: 'async' } })).json),
      );
      await Promise.all(jobs.map((j) => pollJob(j.poll_url, (x) => x.status === 'in_progress', { base })));
      const worker0 = genie.workers[0];
      worker0.child.kill('SIGTERM');
      // Its replacement takes the workflow tasks that follow; the node calls stay where they are.
      genie.workers.push(await spawnWorkerLike(genie));
      const done = await Promise.all(jobs.map((j) => pollJob(j.poll_url, undefined, { base, timeoutMs: 30_000 })));
      expect(done.map((j) => j.status)).toEqual(['completed', 'completed', 'completed']);
      expect(await exited(worker0.child)).toBe(0);
      // No node call was cut: every node call the worker held, it finished.
      expect(await cutNodeCalls()).toBe(cutBefore);
      // One `generate` per job — except, rarely, a task the server handed worker0 at the very instant of
      // the signal: the SDK drops it before it starts (no node call), and it runs on the replacement
      // after its heartbeat timeout (seen once in six runs beside a CPU hog, even with the server
      // answering a stopping worker's polls empty). Never a third.
      for (const j of jobs) expect(await generateAttempts(j.id)).toBeLessThanOrEqual(2);
      // The fleet's prober, which only waits between rounds, did not hold the shutdown for the grace
      // period (20 s here): it handed over at the signal, and the replacement probes now.
      const prober = await proberActivity(`genie-fleet-probe-${genie.env.GENIE_FLEET}`, (a) => !a.lastWorkerIdentity?.startsWith(`${worker0.child.pid}@`)); // identities are "<pid>@host"
      expect(prober.lastFailure?.message).toMatch(/shutting down: another worker takes the prober over/);
    }, 60_000);

    it('an API finishes the webhook attempt it runs for an async job started there (its sticky workflow task) before it exits 0: delivered once', async () => {
      const base = await liveApi(genie);
      const api1 = genie.apis.find((a) => a.ready.url === base)!;
      // A receiver that takes 3 s to answer: the attempt is in flight when the API is told to stop.
      let arrived!: () => void;
      const inFlight = new Promise<void>((r) => (arrived = r));
      const bodies: string[] = [];
      const receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          bodies.push(body);
          arrived();
          setTimeout(() => res.writeHead(200).end(), 3000);
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
        const accepted = (await api('/v1/chat/completions', { base, body: { model: 'slow-model', messages, max_tokens: 5, mode: 'async', webhook: { url, secret: 'drain-secret' } } })).json;
        await inFlight;
        api1.child.kill('SIGTERM');
        expect(await exited(api1.child)).toBe(0);
        const job = await pollJob(accepted.poll_url, (j) => j.webhook?.status === 'delivered', { base: await liveApi(genie), timeoutMs: 30_000 });
        expect(job.webhook).toMatchObject({ status: 'delivered', attempts: 1 });
        // One request: the attempt was not cut and redone elsewhere (a 1 s grace used to cut it)…
        expect(bodies).toHaveLength(1);
        // …and it was this API that ran it (the workflow task recording the attempt completed there).
        expect(await webhookAttemptIdentities(accepted.id)).toEqual([`${api1.child.pid}@${os.hostname()}`]);
      } finally {
        await new Promise((r) => receiver.close(r));
      }
    }, 60_000);
  });

  describe('when the grace period runs out', () => {
    let genie: IsolatedGenie;
    beforeAll(async () => {
      genie = await startIsolatedGenie({ nodes: `slower:vllm=${slower.url}`, workers: 2, env: { GENIE_SHUTDOWN_GRACE_MS: '300' } });
    });
    afterAll(async () => {
      await genie?.stop();
    });

    it('a stream or sync request still running gets a 503 (inline for the stream), never a silent cut; the completion ends failed, not cancelled', async () => {
      const res = await stream(genie.apiUrl, 'slower-model'); // 20 tokens at 300 ms: far past the grace period
      const id = res.headers.get('x-genie-completion-id')!;
      // A sync caller on the same process, waiting for its answer when the grace period ends.
      const sync = fetch(`${genie.apiUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().apiKey}` },
        body: JSON.stringify({ model: 'slower-model', messages: [{ role: 'user', content: 'sync, long' }], max_tokens: 20 }),
      });
      // SIGTERM once the stream has its first token and the sync caller is held too: a sync request still
      // on its way when the listener closes is refused at connect, which is not the case under test.
      const heldCallers = async () => sample(await scrape(`${genie.apiUrl}/metrics`), 'genie_held_callers');
      const bothHeld = waitFor('the sync caller to be held beside the stream', async () => (await heldCallers()) === 2, 30_000, 20);
      let firstToken!: () => void;
      const firstContent = new Promise<void>((resolve) => (firstToken = resolve));
      const sigterm = Promise.all([bothHeld, firstContent]).then(() => genie.apis[0].child.kill('SIGTERM'));
      const result = await readStream(res, firstToken);
      expect(await sigterm).toBe(true);
      expect(result.text).toMatch(/\[error\] 503 .*shutting down/);
      expect(result.finish).toBe('error');
      expect(result.done).toBe(true);
      const syncRes = await sync;
      expect(syncRes.status).toBe(503);
      expect(((await syncRes.json()) as { error: { message: string } }).error.message).toMatch(/shutting down/);
      expect(await exited(genie.apis[0].child)).toBe(0);
      // Ops see a failure with the 503 the caller got, and the tokens produced were settled.
      const { client, close } = await temporalClient();
      try {
        const handle = client.workflow.getHandle(id);
        await handle.result().catch(() => undefined);
        const desc = await handle.describe();
        expect(desc.searchAttributes.GenieStatus).toEqual(['failed']);
        expect(desc.status.name).toBe('FAILED');
      } finally {
        await close();
      }
    });

    it('an async job whose worker stops is finished by another worker: completed, not cancelled', async () => {
      const base = await liveApi(genie);
      const job = (await api('/v1/chat/completions', { base, body: { model: 'slower-model', messages, max_tokens: 20, mode: 'async' } })).json;
      await pollJob(job.poll_url, (x) => x.status === 'in_progress', { base });
      // Stop the worker that holds the node call (identity "<pid>@host").
      const { client, close } = await temporalClient();
      let holder: string | undefined;
      try {
        for (let i = 0; i < 50 && !holder; i++) {
          const desc = await client.workflow.getHandle(job.id).describe();
          holder = desc.raw.pendingActivities?.find((a) => a.activityType?.name === 'generate')?.lastWorkerIdentity ?? undefined;
          if (!holder) await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await close();
      }
      const pid = Number(holder?.split('@')[0]);
      const victim = genie.workers.find((w) => w.child.pid === pid)!;
      expect(victim).toBeDefined();
      victim.child.kill('SIGTERM');
      const done = await pollJob(job.poll_url, undefined, { base, timeoutMs: 40_000 });
      expect(done.status).toBe('completed');
      expect(done.result?.choices[0].message.content.length).toBeGreaterThan(0);
      expect(await generateAttempts(job.id)).toBe(2);
      expect(await exited(victim.child)).toBe(0);
    }, 60_000);
  });
});

/** An API of this deployment that still runs (the first test stops one); starts one if none does. */
async function liveApi(genie: IsolatedGenie): Promise<string> {
  const alive = genie.apis.find((a) => a.child.exitCode === null && a.child.signalCode === null && !a.child.killed);
  if (alive) return alive.ready.url as string;
  const started = await spawnEntrypoint({ name: 'api', script: 'workers/api.ts', env: genie.env, readyEvent: 'api.ready' });
  genie.apis.push(started);
  return started.ready.url as string;
}

function spawnWorkerLike(genie: IsolatedGenie) {
  return spawnEntrypoint({ name: 'worker', script: 'workers/worker.ts', env: genie.env, readyEvent: 'worker.ready' });
}
