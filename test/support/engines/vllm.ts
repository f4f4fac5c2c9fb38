/**
 * A real vLLM server (the CPU build from test/engines/install.sh) on loopback, serving a tiny
 * random-weight Qwen2 model that test/engines/vllm-model.py writes into a temp folder (`--load-format
 * dummy`: no weights are read, nothing is downloaded). Its output is gibberish; its API, errors, tool
 * calling, structured outputs, streaming and metrics are vLLM's own.
 *
 *   const vllm = await startVllm();            // ~30 s on 2 cores once the engine is installed
 *   await fetch(`${vllm.url}/v1/chat/completions`, …) // vllm.url has no trailing /v1
 *   await vllm.stop();
 *
 * The server runs in its own process group (API server → EngineCore → Worker processes); stop() ends the
 * whole group and waits until every member has exited. If the test process dies without calling stop(),
 * a watchdog in the group notices its stdin closing and ends the group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../../../workers/stack/free-port.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const INSTALL_SH = path.join(REPO, 'test/engines/install.sh');
const MODEL_PY = path.join(REPO, 'test/engines/vllm-model.py');

export interface StartVllmOptions {
  /** `--max-model-len`, default 1024 (the model's max_position_embeddings is 1024). */
  maxModelLen?: number;
  /** `--served-model-name`, default `tiny-vllm`. */
  servedModelName?: string;
  /** Every stdout/stderr line of the installer and the server. */
  log?: (line: string) => void;
  /** `--kv-cache-memory-bytes`, default 64 MiB (≈ 65k tokens of this model's KV cache). */
  kvCacheMemoryBytes?: number;
  /** More server arguments, appended last. */
  extraArgs?: string[];
  /** How long the server may take to become ready, default 6 min. */
  startTimeoutMs?: number;
}

export interface VllmServer {
  /** `http://127.0.0.1:<port>`, no trailing slash and no `/v1`. */
  url: string;
  /** The served model name. */
  model: string;
  maxModelLen: number;
  /** The API server's pid, which is also the process group's id. */
  pid: number;
  /** The last lines the server wrote. */
  logs(): string[];
  stop(): Promise<void>;
}

const RING = 300;

class Ring {
  private lines: string[] = [];
  push(line: string) {
    this.lines.push(line);
    if (this.lines.length > RING) this.lines.shift();
  }
  tail(n = 80) {
    return this.lines.slice(-n).join('\n');
  }
  all() {
    return [...this.lines];
  }
}


/** Runs a command to completion, collecting stdout; rejects with the output's tail on failure. */
function run(cmd: string, args: string[], opts: { timeoutMs: number; ring: Ring; log?: (l: string) => void; env?: NodeJS.ProcessEnv }) {
  return new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    createInterface({ input: child.stderr }).on('line', (l) => {
      opts.ring.push(l);
      opts.log?.(l);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')} did not finish in ${opts.timeoutMs / 1000} s:\n${opts.ring.tail()}`));
    }, opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close', not 'exit': a command that prints and exits at once (the installer's cached path) can
    // exit before its stdout was read — 'exit' then resolved with nothing (seen once on CI).
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}:\n${out}\n${opts.ring.tail()}`));
    });
  });
}

/** The installed engine's folder (installs it first if needed, which takes minutes). */
async function vllmEnv(ring: Ring, log?: (l: string) => void): Promise<string> {
  const out = await run('bash', [INSTALL_SH, 'vllm'], { timeoutMs: 20 * 60_000, ring, log });
  const dir = out.trim().split('\n').pop()!.trim();
  if (!dir) throw new Error(`test/engines/install.sh vllm printed no folder:\n${ring.tail()}`);
  return dir;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals) {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

async function waitGroupGone(pgid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!groupAlive(pgid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !groupAlive(pgid);
}

async function ready(url: string, model: string): Promise<boolean> {
  try {
    const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(3000) });
    await health.arrayBuffer();
    if (health.status !== 200) return false;
    const models = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(3000) });
    if (models.status !== 200) return false;
    const body = (await models.json()) as { data?: { id: string }[] };
    return !!body.data?.some((m) => m.id === model);
  } catch {
    return false;
  }
}

export async function startVllm(opts: StartVllmOptions = {}): Promise<VllmServer> {
  const maxModelLen = opts.maxModelLen ?? 1024;
  const model = opts.servedModelName ?? 'tiny-vllm';
  const ring = new Ring();
  const log = opts.log;
  const startTimeoutMs = opts.startTimeoutMs ?? 6 * 60_000;

  const envDir = await vllmEnv(ring, log);
  const python = path.join(envDir, 'bin/python');

  const work = mkdtempSync(path.join(os.tmpdir(), 'genie-vllm-'));
  const modelDir = path.join(work, 'model');
  const tmpDir = path.join(work, 'tmp');
  mkdirSync(tmpDir);
  try {
    await run(python, [MODEL_PY, modelDir], { timeoutMs: 120_000, ring, log });
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: undefined,
    PYTHONUNBUFFERED: '1',
    TMPDIR: tmpDir, // vLLM leaves a vllm_dist_* file behind in the temp folder
    VLLM_CACHE_ROOT: path.join(work, 'vllm-cache'),
    VLLM_CONFIG_ROOT: path.join(work, 'vllm-config'),
    HF_HOME: path.join(work, 'hf'),
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    VLLM_NO_USAGE_STATS: '1',
    DO_NOT_TRACK: '1',
    VLLM_HOST_IP: '127.0.0.1',
    // One OpenMP thread and no core pinning: the machine is small and shared.
    VLLM_CPU_OMP_THREADS_BIND: 'nobind',
    OMP_NUM_THREADS: '1',
    MKL_NUM_THREADS: '1',
    TOKENIZERS_PARALLELISM: 'false',
    // Would override --kv-cache-memory-bytes (whole GiB only).
    VLLM_CPU_KVCACHE_SPACE: undefined,
  };

  const args = (port: number) => [
    '-m',
    'vllm.entrypoints.openai.api_server', // the `vllm` console script fails on the package metadata
    '--model',
    modelDir,
    '--load-format',
    'dummy',
    '--dtype',
    'float32',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--max-model-len',
    String(maxModelLen),
    '--served-model-name',
    model,
    '--enable-auto-tool-choice',
    '--tool-call-parser',
    'hermes',
    // Random weights pick whitespace forever if the grammar lets them.
    '--structured-outputs-config',
    '{"backend":"xgrammar","disable_any_whitespace":true}',
    '--kv-cache-memory-bytes',
    String(opts.kvCacheMemoryBytes ?? 64 * 1024 * 1024),
    // No torch.compile / inductor: starts in seconds instead of minutes.
    '--enforce-eager',
    '--max-num-seqs',
    '32',
    '--seed',
    '0',
    ...(opts.extraArgs ?? []),
  ];

  // bash execs into python (same pid, which leads a new process group); before that it forks a watchdog
  // that waits for its stdin to close — stop() closes it, and so does this process dying — and then
  // ends the group. The server itself reads /dev/null.
  const watchdog =
    // (bash gives a background job /dev/null as stdin, hence the copy on fd 3)
    'exec 3<&0; ( trap "" TERM; read -r _ <&3; kill -TERM -- -$$ 2>/dev/null; ' +
    'for _ in $(seq 1 150); do kill -0 $$ 2>/dev/null || exit 0; sleep 0.2; done; kill -KILL -- -$$ 2>/dev/null ) & ' +
    'exec "$@" </dev/null 3<&-';

  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child: ChildProcess = spawn('bash', ['-c', watchdog, 'vllm-harness', python, ...args(port)], {
      cwd: work,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const pid = child.pid!;
    const onLine = (l: string) => {
      ring.push(l);
      log?.(l);
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const exitPromise = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      }),
    );
    // A test process that exits without stop() still takes the server with it.
    const onExit = () => killGroup(pid, 'SIGKILL');
    process.once('exit', onExit);

    const started = Date.now();
    // SIGTERM to the group (vLLM shuts its engine down and exits in ~2 s), then stdin's end lets the
    // watchdog go; SIGKILL for whatever is left after 30 s.
    const end = async () => {
      killGroup(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exitPromise, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
      clearTimeout(timer);
      child.stdin?.end();
      if (!(await waitGroupGone(pid, exited ? 10_000 : 0))) {
        killGroup(pid, 'SIGKILL');
        await waitGroupGone(pid, 10_000);
      }
      await exitPromise;
      process.removeListener('exit', onExit);
    };
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        await end();
        rmSync(work, { recursive: true, force: true });
      })());

    const ok = await (async () => {
      while (Date.now() - started < startTimeoutMs) {
        if (exited) return false;
        if (await ready(url, model)) return true;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((r) => (timer = setTimeout(r, 1000))), exitPromise]);
        clearTimeout(timer);
      }
      return false;
    })();
    if (ok) {
      log?.(`vLLM ready on ${url} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // A server that goes away mid-suite fails its tests with ECONNREFUSED alone: its last words go
      // to the test output, so CI shows why it went.
      void exitPromise.then(() => {
        if (!stopping) console.error(`vLLM exited before the test stopped it (${exited?.code ?? exited?.signal}); its last log lines:\n${ring.tail()}`);
      });
      return { url, model, maxModelLen, pid, logs: () => ring.all(), stop };
    }

    const why = exited
      ? `vLLM exited with ${exited.code ?? exited.signal} before it was ready`
      : `vLLM not ready on ${url} in ${startTimeoutMs / 1000} s`;
    const portTaken = exited && /address already in use|Errno 98/i.test(ring.tail(40));
    // The temp folder (model included) is kept for a retry on another port.
    await end();
    lastError = new Error(`${why}; last log lines:\n${ring.tail()}`);
    if (!portTaken) break;
  }
  rmSync(work, { recursive: true, force: true });
  throw lastError!;
}
