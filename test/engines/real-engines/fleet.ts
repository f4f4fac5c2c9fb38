import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import type { Simulator } from '../../../simulator/server.js';
import { startTriton, type TritonServer } from '../../support/engines/triton.js';
import { startVllm, type VllmServer } from '../../support/engines/vllm.js';
import { startIsolatedGenie, type IsolatedGenie } from '../../support/genie.js';
import { temporalClient, testStack } from '../../support/stack.js';

// Genie on real engines (issue 14): a real vLLM (CPU build, a tiny random-weight Qwen2 the harness
// makes) and a real Triton 2.51 (decoupled Python models shaped like TensorRT-LLM's ensemble and the
// vLLM backend), through the official SDK. Random weights write gibberish: the assertions are about
// shapes, usage arithmetic and error mapping, never about text.
//
// One real vLLM, one real Triton and one isolated Genie in front of them, shared by every describe of
// real-engines.test.ts (an engine start costs half a minute and ~3 GB): the live bindings below are set
// by startRealEngines()'s beforeAll.

export let vllm: VllmServer;
export let triton: TritonServer;
export let genie: IsolatedGenie;
export let client: OpenAI;
/** Simulators a test starts beside the engines; closed with them. */
export const extras: Simulator[] = [];
export const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${genie.apiUrl}/admin/v1${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testStack().adminToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: res.status === 204 ? null : ((await res.json()) as any) };
};
export interface NodeView {
  id: string;
  name: string;
  healthy: boolean;
  state: string;
  models: string[];
  modelInfo: Record<string, { contextLength?: number; served?: string; inputs?: string[] }>;
  contextLengths: Record<string, number>;
  load: { running: number | null; waiting: number | null; kvCacheUsage: number | null; finished: number | null } | null;
  lastProbe: { error?: string | null } | null;
}
export const nodes = async () => (await admin('GET', '/nodes')).json.data as NodeView[];
export const node = async (name: string) => (await nodes()).find((n) => n.name === name)!;
export const until = async (what: string, check: () => Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};
export const placement = async (id: string) => {
  const { client: temporal, close } = await temporalClient();
  try {
    const handle = temporal.workflow.getHandle(id);
    await handle.result();
    return (await handle.describe()).searchAttributes.GenieNode?.[0];
  } finally {
    await close();
  }
};
export const usageAddsUp = (u: OpenAI.CompletionUsage | undefined | null) => {
  expect(u).toBeTruthy();
  expect(u!.prompt_tokens).toBeGreaterThan(0);
  expect(u!.total_tokens).toBe(u!.prompt_tokens + u!.completion_tokens);
};
export const say = [{ role: 'user' as const, content: 'Say hi' }];

/** Starts the engines and the Genie in front of them for the test file (beforeAll), and stops them after. */
export function startRealEngines(): void {
  beforeAll(async () => {
    [vllm, triton] = await Promise.all([
      startVllm({ maxModelLen: 1024, servedModelName: 'tiny-vllm' }),
      startTriton({
        models: [
          { name: 'qwen3:8b', kind: 'trtllm', contextLimit: 8192 },
          { name: 'vllm-shaped', kind: 'vllm-backend', contextLimit: 8192 },
          { name: 'broken', kind: 'broken' },
          // Slow enough for a probe to see it generating (it publishes TensorRT-LLM's request gauges).
          { name: 'qwen3:slow', kind: 'trtllm', contextLimit: 8192, tokenDelayMs: 150 },
          // Refuses prompt + max_tokens beyond 1024 as TensorRT-LLM refuses beyond its max_seq_len; the
          // node's configured context length tells Genie so (Triton reports none).
          { name: 'qwen3:1k', kind: 'trtllm', contextLimit: 1024 },
        ],
      }),
    ]);
    // The Triton repository cannot name a model after Genie's id here: the node maps it.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'genie-engines-'));
    const file = path.join(dir, 'nodes.json');
    writeFileSync(
      file,
      JSON.stringify([
        { name: 'real-vllm', engine: 'vllm', url: vllm.url },
        { name: 'real-triton', engine: 'triton', url: triton.url, metricsUrl: `${triton.metricsUrl}/metrics`, modelNames: { 'tiny-triton': 'vllm-shaped' }, contextLengths: { 'qwen3:1k': 1024 } },
      ]),
    );
    genie = await startIsolatedGenie({ nodes: '', apis: 2, env: { GENIE_NODES_FILE: file, GENIE_PROBE_TIMEOUT_MS: '20000', GENIE_NODE_TIMEOUT_MS: '120000' } });
    client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0, timeout: 120_000 });
    await until('both real nodes probed healthy', async () => {
      const [v, t] = [await node('real-vllm'), await node('real-triton')];
      return Boolean(v?.healthy && t?.healthy && v.models.includes('tiny-vllm') && t.models.includes('tiny-triton'));
    }, 120_000);
  }, 600_000);

  afterAll(async () => {
    await genie?.stop();
    await Promise.all([vllm?.stop(), triton?.stop(), ...extras.map((s) => s.close())]);
  }, 120_000);
}
