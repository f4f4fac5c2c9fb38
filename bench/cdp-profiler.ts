import type { CpuProfile } from './cpuprofile.js';

// Drives V8's sampling profiler in another Node process over the Chrome DevTools Protocol (the process
// runs with --inspect on loopback), so the profile covers exactly a load window, not start-up. Every
// thread is profiled: the Temporal SDK runs workflow code in a worker thread of its own, which the
// main thread's profile would not see.

interface Socket {
  on(event: 'open' | 'error' | 'message', f: (data: Buffer | Error) => void): void;
  send(data: string): void;
  close(): void;
}
interface Message { id?: number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { message: string } }
type Send = <R>(method: string, params?: object) => Promise<R>;

// Installed only in bench/node_modules (by make bench), so resolved at run time, not by `make test`'s tsc.
const load = (name: string): Promise<unknown> => import(name);

/** Request/answer matching for one CDP session; `write` carries a request out, `deliver` an answer in. */
function session(write: (text: string) => void): { send: Send; deliver(msg: Message): void } {
  let lastId = 0;
  const pending = new Map<number, { resolve(r: unknown): void; reject(e: Error): void }>();
  return {
    send: <R>(method: string, params: object = {}) =>
      new Promise<R>((resolve, reject) => {
        const id = ++lastId;
        pending.set(id, { resolve: (r) => resolve(r as R), reject });
        write(JSON.stringify({ id, method, params }));
      }),
    deliver(msg) {
      const p = msg.id === undefined ? undefined : pending.get(msg.id);
      if (!p) return; // an event, not an answer
      pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(`CDP: ${msg.error.message}`));
      else p.resolve(msg.result);
    },
  };
}

export async function profileOverCdp<T>(inspectPort: number, samplingIntervalUs: number, during: () => Promise<T>): Promise<{ profiles: Array<{ thread: string; profile: CpuProfile }>; result: T }> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const { WebSocket } = (await load('ws')) as { WebSocket: new (url: string) => Socket };
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', (e) => reject(e as Error));
  });
  const main = session((text) => ws.send(text));
  // Worker threads are reached through the main session: NodeWorker wraps their messages both ways.
  const workers = new Map<string, { thread: string; send: Send; deliver(msg: Message): void }>();
  ws.on('message', (data) => {
    const msg = JSON.parse(String(data)) as Message;
    if (msg.method === 'NodeWorker.attachedToWorker') {
      const { sessionId, workerInfo } = msg.params as { sessionId: string; workerInfo: { title: string; url: string } };
      // Node's own threads (the ESM loader-hooks thread tsx runs in) do no request work; sampling them only costs.
      if (workerInfo.url.startsWith('node:')) return;
      const s = session((message) => void main.send('NodeWorker.sendMessageToWorker', { sessionId, message }));
      const script = workerInfo.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\//, '');
      workers.set(sessionId, { thread: `worker thread ${workerInfo.title} ${script}`, ...s });
    } else if (msg.method === 'NodeWorker.receivedMessageFromWorker') {
      const { sessionId, message } = msg.params as { sessionId: string; message: string };
      workers.get(sessionId)?.deliver(JSON.parse(message) as Message);
    } else main.deliver(msg);
  });
  await main.send('NodeWorker.enable', { waitForDebuggerOnStart: false });
  await new Promise((r) => setTimeout(r, 200)); // attachedToWorker events for the threads already running
  const threads = [{ thread: 'main thread', send: main.send }, ...workers.values()];
  try {
    for (const t of threads) {
      await t.send('Profiler.enable');
      await t.send('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    }
    for (const t of threads) await t.send('Profiler.start');
    // The profilers stop whatever `during` does; its failure is rethrown after.
    const outcome = await during().then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
    const profiles = [];
    for (const t of threads) profiles.push({ thread: t.thread, profile: (await t.send<{ profile: CpuProfile }>('Profiler.stop')).profile });
    if (!outcome.ok) throw outcome.error;
    return { profiles, result: outcome.value };
  } finally {
    for (const t of threads) await t.send('Profiler.disable').catch(() => undefined);
    await main.send('NodeWorker.disable').catch(() => undefined);
    ws.close();
  }
}
