// The Triton harness's own tests (triton-harness.*.test.ts) share this: the harness (test/support/engines/triton.ts): a real tritonserver with the
// Python-backend stand-ins of test/engines/triton-models/, driven with plain fetch. Besides checking
// the stand-ins, it pins down (and prints, under "observed") how Triton's HTTP front end behaves.
import { parseExposition, type Scrape } from '../support/prometheus.js';
import { startTriton, type TritonServer } from '../support/engines/triton.js';

export const observed: Record<string, unknown> = {};
export const TRT = 'qwen3:8b';
export const VLLM = 'vllm-shaped';
export let triton: TritonServer;

export interface Answer {
  status: number;
  contentType: string | null;
  raw: string;
  events: Array<Record<string, unknown>>;
}

export async function post(path: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${triton.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const raw = await res.text();
  const events = raw
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
  return { status: res.status, contentType: res.headers.get('content-type'), raw, events };
}

export const gen = (model: string, body: unknown) => post(`/v2/models/${model}/generate_stream`, body);
export const texts = (a: Answer) => a.events.map((e) => e.text_output);
export const brief = (a: Answer) => ({ status: a.status, contentType: a.contentType, body: a.raw });

export async function metrics(): Promise<Scrape> {
  const res = await fetch(`${triton.metricsUrl}/metrics`);
  observed.metricsContentType = res.headers.get('content-type');
  return parseExposition(await res.text());
}
export const metric = (s: Scrape, name: string, model: string, extra: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && x.labels.model === model && Object.entries(extra).every(([k, v]) => x.labels[k] === v)).reduce((n, x) => n + x.value, 0);

/** Starts the server with every stand-in for the test file, prints what was observed after. */
export function startHarness(): void {
  beforeAll(async () => {
    const t0 = Date.now();
    triton = await startTriton({
      models: [
        { name: TRT, kind: 'trtllm' },
        { name: VLLM, kind: 'vllm-backend' },
        { name: 'broken', kind: 'broken' },
        { name: 'slow-trtllm', kind: 'trtllm', tokenDelayMs: 200 },
        { name: 'slow-vllm', kind: 'vllm-backend', tokenDelayMs: 200 },
        { name: 'slow-inline', kind: 'trtllm', tokenDelayMs: 200, inlineExecute: true },
      ],
      strictReadiness: true,
    });
    observed.startupMs = Date.now() - t0;
  }, 240_000);

  afterAll(async () => {
    await triton?.stop();
    process.stdout.write(`observed:\n${JSON.stringify(observed, null, 2)}\n`);
  }, 60_000);
}
