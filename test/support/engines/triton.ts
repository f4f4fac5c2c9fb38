// A real tritonserver 2.51 (from PyPI's nvidia-pytriton, see test/engines/install.sh) on loopback,
// serving the Python-backend stand-ins of test/engines/triton-models/ from a model repository written
// here. No PyTriton API: its bind() refuses `:` in model names, the server itself does not.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { freePort } from '../../../workers/stack/free-port.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODELS = path.join(ROOT, 'test/engines/triton-models');
const READY_DEADLINE_MS = 180_000;
const STOP_GRACE_MS = 15_000;

export type TritonModelKind = 'trtllm' | 'vllm-backend' | 'broken';

export interface TritonModel {
  /** Model (and folder) name; may contain `:`, e.g. `qwen3:8b`. */
  name: string;
  kind: TritonModelKind;
  /** Sleep before each generated token (config.pbtxt parameter `token_delay_ms`); default 0. */
  tokenDelayMs?: number;
  /** Prompt words + max_tokens above this are refused (parameter `context_limit`); default 1024. */
  contextLimit?: number;
  /**
   * Generate inside execute() (parameter `execute_inline`): the instance serves one request at a time
   * and later ones wait in Triton's queue. Default false: a thread per request, execute() returns at
   * once, as vllm_backend and TensorRT-LLM's in-flight batcher do.
   */
  inlineExecute?: boolean;
}

export interface TritonServer {
  /** HTTP endpoint (KServe v2), e.g. http://127.0.0.1:PORT */
  url: string;
  /** Prometheus endpoint, `${metricsUrl}/metrics` */
  metricsUrl: string;
  grpcPort: number;
  /** The model repository folder (removed by stop()). */
  repository: string;
  /** The last server log lines. */
  logs(): string[];
  stop(): Promise<void>;
}

export interface StartTritonOptions {
  models: TritonModel[];
  /** --strict-readiness: /v2/health/ready is 200 only when every model is ready. Default true (Triton's default). */
  strictReadiness?: boolean;
  log?: (line: string) => void;
  /** Extra tritonserver flags, e.g. ['--log-verbose=1']. */
  extraArgs?: string[];
}

interface Install {
  venv: string;
  bin: string;
  backend: string;
  stub: string;
  libs: string[];
  setpriv?: string;
}

let install: Promise<Install> | undefined;

/** The venv of `test/engines/install.sh triton` and where the server's parts are inside it. */
function tritonInstall(): Promise<Install> {
  install ??= (async () => {
    const { stdout } = await run('bash', [path.join(ROOT, 'test/engines/install.sh'), 'triton'], { maxBuffer: 1 << 20 });
    const venv = stdout.trim().split('\n').pop()!;
    const py = path.join(venv, 'bin/python');
    // The stub embeds the interpreter: it needs the shared libpython the venv's python was built with.
    const probe = await run(py, ['-c', 'import json,sys,sysconfig,site; print(json.dumps({"libdir": sysconfig.get_config_var("LIBDIR"), "ver": f"{sys.version_info[0]}.{sys.version_info[1]}", "site": site.getsitepackages()[0]}))']);
    const { libdir, ver, site } = JSON.parse(probe.stdout) as { libdir: string; ver: string; site: string };
    const dist = path.join(site, 'pytriton/tritonserver');
    return {
      venv,
      bin: path.join(dist, 'bin/tritonserver'),
      backend: path.join(dist, 'backends/python'),
      stub: path.join(dist, `python_backend_stubs/${ver}/triton_python_backend_stub`),
      libs: [path.join(site, 'nvidia_pytriton.libs'), libdir],
      setpriv: (process.env.PATH ?? '').split(':').map((d) => path.join(d, 'setpriv')).find((f) => existsSync(f)),
    };
  })();
  install.catch(() => (install = undefined));
  return install;
}


function render(template: string, values: Record<string, string>): string {
  return template.replace(/\$\{(\w+)\}/g, (m, k: string) => {
    if (!(k in values)) throw new Error(`triton model template: no value for ${m}`);
    return values[k];
  });
}

/** Writes the model repository and a backend folder (the python backend plus the stub for this Python). */
function writeRepository(dir: string, inst: Install, models: TritonModel[]): string {
  const repo = path.join(dir, 'models');
  for (const m of models) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/.test(m.name)) throw new Error(`unsupported model name for a folder: ${m.name}`);
    const src = path.join(MODELS, m.kind);
    const version = path.join(repo, m.name, '1');
    mkdirSync(version, { recursive: true });
    const config = render(readFileSync(path.join(src, 'config.pbtxt'), 'utf8'), {
      name: m.name,
      token_delay_ms: String(m.tokenDelayMs ?? 0),
      context_limit: String(m.contextLimit ?? 1024),
      execute_inline: String(m.inlineExecute ?? false),
    });
    writeFileSync(path.join(repo, m.name, 'config.pbtxt'), config);
    copyFileSync(path.join(src, 'model.py'), path.join(version, 'model.py'));
  }
  // The python backend looks for triton_python_backend_stub only beside libtriton_python.so, and the
  // wheel ships one stub per Python version elsewhere: PyTriton copies the tree, links do as well.
  const backends = path.join(dir, 'backends');
  mkdirSync(path.join(backends, 'python'), { recursive: true });
  symlinkSync(path.join(inst.backend, 'libtriton_python.so'), path.join(backends, 'python/libtriton_python.so'));
  symlinkSync(path.join(inst.backend, 'triton_python_backend_utils.py'), path.join(backends, 'python/triton_python_backend_utils.py'));
  symlinkSync(inst.stub, path.join(backends, 'python/triton_python_backend_stub'));
  return repo;
}

async function get(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

const live = new Set<ChildProcess>();
let exitHook = false;
function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
function killGroupLeader(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    child.kill(signal);
  } catch {
    /* already gone */
  }
}
function killGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    /* already gone */
  }
}

export async function startTriton(opts: StartTritonOptions): Promise<TritonServer> {
  const inst = await tritonInstall();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-triton-'));
  const repository = writeRepository(dir, inst, opts.models);
  const logs: string[] = [];
  const note = (l: string) => {
    logs.push(l);
    if (logs.length > 400) logs.shift();
    opts.log?.(l);
  };
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => live.forEach((c) => killGroup(c, 'SIGKILL')));
  }

  // Ports picked by binding 0 can be taken before the server binds them: retry on an early exit.
  for (let attempt = 1; ; attempt++) {
    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    const shmPrefix = `genie${process.pid}x${path.basename(dir).slice(-6)}x${attempt}`;
    const args = [
      `--model-repository=${repository}`,
      `--backend-directory=${path.join(dir, 'backends')}`,
      // Small shared-memory regions with a per-server prefix, as PyTriton does (parallel servers).
      '--backend-config=python,shm-default-byte-size=4194304',
      '--backend-config=python,shm-growth-byte-size=1048576',
      `--backend-config=python,shm-region-prefix-name=${shmPrefix}`,
      '--http-address=127.0.0.1',
      `--http-port=${http}`,
      '--grpc-address=127.0.0.1',
      `--grpc-port=${grpc}`,
      '--metrics-address=127.0.0.1',
      `--metrics-port=${metrics}`,
      '--allow-metrics=true',
      '--allow-gpu-metrics=false',
      '--allow-cpu-metrics=true',
      '--metrics-interval-ms=500',
      `--strict-readiness=${opts.strictReadiness ?? true}`,
      // explicit + load all: what PyTriton does; a model that fails to load does not stop the server.
      '--model-control-mode=explicit',
      '--load-model=*',
      '--exit-on-error=false',
      '--exit-timeout-secs=5',
      `--cache-directory=${path.join(dir, 'caches')}`,
      ...(opts.extraArgs ?? []),
    ];
    const env = {
      ...process.env,
      LD_LIBRARY_PATH: [...inst.libs, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      PATH: `${path.join(inst.venv, 'bin')}:${process.env.PATH}`,
    };
    note(`$ ${inst.bin} ${args.join(' ')}`);
    // Like PyTriton's prctl(PR_SET_PDEATHSIG): the server goes when this process dies unannounced.
    const [cmd, argv] = inst.setpriv ? [inst.setpriv, ['--pdeathsig', 'SIGTERM', '--', inst.bin, ...args]] : [inst.bin, args];
    const child = spawn(cmd, argv, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    live.add(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code, sig) => (live.delete(child), resolve(code ?? (sig ? -1 : null)))));
    createInterface({ input: child.stdout! }).on('line', note);
    createInterface({ input: child.stderr! }).on('line', note);

    const url = `http://127.0.0.1:${http}`;
    const metricsUrl = `http://127.0.0.1:${metrics}`;
    let stopping = false;
    const stop = async () => {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM to the server alone. It then waits for open HTTP connections (idle keep-alive ones
        // too) up to --exit-timeout-secs before unloading its models; the group is killed after that
        // grace, and for any stub left behind, and the stubs' shared-memory regions removed.
        killGroupLeader(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      killGroup(child, 'SIGKILL');
      for (const f of readdirSafe('/dev/shm')) if (f.startsWith(shmPrefix)) rmSync(path.join('/dev/shm', f), { force: true });
      rmSync(dir, { recursive: true, force: true });
    };

    const wanted = opts.models.filter((m) => m.kind !== 'broken').map((m) => m.name);
    const deadline = Date.now() + READY_DEADLINE_MS;
    let gone: number | null | undefined;
    void exited.then((c) => (gone = c));
    let ready = false;
    while (Date.now() < deadline && gone === undefined) {
      if ((await get(`${url}/v2/health/live`)) === 200) {
        // Raw `:` in the path: Triton does not percent-decode model names.
        const states = await Promise.all(wanted.map((n) => get(`${url}/v2/models/${n}/ready`)));
        if (states.every((s) => s === 200)) {
          ready = true;
          break;
        }
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (ready) {
      // A server that goes away mid-suite fails the tests that use it with ECONNREFUSED and nothing
      // else: its own last words go to the test output, so CI shows why it went.
      void exited.then((code) => {
        if (!stopping) console.error(`tritonserver exited before the test stopped it (code ${code}); its last log lines:\n${logs.slice(-80).join('\n')}`);
      });
      return { url, metricsUrl, grpcPort: grpc, repository, logs: () => [...logs], stop };
    }
    const tail = logs.slice(-60).join('\n');
    const portClash = logs.some((l) => /already in use|failed to start/i.test(l));
    await stop().catch(() => undefined);
    if (gone !== undefined && portClash && attempt < 3) {
      mkdirSync(dir, { recursive: true });
      writeRepository(dir, inst, opts.models);
      continue;
    }
    throw new Error(
      gone !== undefined
        ? `tritonserver exited (${gone}) before its models were ready:\n${tail}`
        : `tritonserver not ready in ${READY_DEADLINE_MS / 1000} s (models ${wanted.join(', ')}):\n${tail}`,
    );
  }
}
