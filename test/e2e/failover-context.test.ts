import OpenAI from 'openai';
import { startSimulator, type Simulator } from '../../simulator/server.js';
import { startIsolatedGenie, type IsolatedGenie } from '../support/genie.js';
import { closedCompletion } from '../support/history.js';
import { testStack } from '../support/stack.js';

// Failover between nodes of different context lengths (the simulator refuses prompt + max_tokens beyond
// its --max-model-len as vLLM does): max_tokens was fitted at admission to the first node, and each
// failover attempt is fitted again to the node it moves to, within what admission reserved.

const messages = [{ role: 'user' as const, content: 'Tell me about context windows.' }];

async function requestsReceived(sim: Simulator): Promise<number> {
  const text = await (await fetch(`${sim.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('genie_sim_requests_received_total'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('failover to a node with another context length', () => {
  let bigFailing: Simulator, small: Simulator, smallFailing: Simulator, big: Simulator;
  let genie: IsolatedGenie;
  let client: OpenAI;

  beforeAll(async () => {
    [bigFailing, small, smallFailing, big] = await Promise.all([
      startSimulator({ port: 0, models: ['refit-down'], maxModelLen: 8192, failureInjectionRate: 100, failureTypes: ['server_error'] }),
      startSimulator({ port: 0, models: ['refit-down'], maxModelLen: 1024 }),
      startSimulator({ port: 0, models: ['refit-up'], maxModelLen: 1024, failureInjectionRate: 100, failureTypes: ['server_error'] }),
      // Runs every answer to its max_tokens: the number of tokens shows what Genie allowed.
      startSimulator({ port: 0, models: ['refit-up'], maxModelLen: 8192, ignoreEos: true }),
    ]);
    genie = await startIsolatedGenie({
      nodes: [`a-big-failing:vllm=${bigFailing.url}`, `b-small:vllm=${small.url}`, `c-small-failing:vllm=${smallFailing.url}`, `d-big:vllm=${big.url}`].join(','),
      // Round-robin over the nodes in name order: consecutive requests start on alternate nodes, so
      // within two requests one starts on the failing node and fails over. Probes only at start: a
      // probe's ping would count as a request the smaller node received.
      env: { GENIE_SELECTION: 'round-robin', GENIE_PROBE_INTERVAL_MS: '600000' },
    });
    client = new OpenAI({ baseURL: `${genie.apiUrl}/v1`, apiKey: testStack().apiKey, maxRetries: 0, timeout: 60_000 });
  });
  afterAll(async () => {
    await genie?.stop();
    await Promise.all([bigFailing, small, smallFailing, big].map((s) => s?.close().catch(() => undefined)));
  });

  it('Genie’s default max_tokens, fitted to an 8192 node that failed, is re-fitted to the 1024 node that takes over', async () => {
    // Before: the failover sent 4096 to the 1024 node, which refused it (400 max_tokens), and the caller got that.
    let failedOver = 0;
    for (let i = 0; i < 4; i++) {
      const res = await client.chat.completions.create({ model: 'refit-down', messages });
      expect(res.usage!.total_tokens).toBeLessThanOrEqual(1024);
      const run = await closedCompletion(res.id);
      expect(run.node).toBe('b-small');
      if (run.steps.includes('selectNode')) failedOver++;
    }
    expect(failedOver).toBeGreaterThanOrEqual(1);
  });

  it('a caller’s max_tokens the smaller node cannot hold never fails over to it: the failing node’s own error', async () => {
    const before = await requestsReceived(small);
    for (let i = 0; i < 2; i++) {
      const err = await client.chat.completions.create({ model: 'refit-down', messages, max_tokens: 2000 }).catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect(err.message).toContain('injected failure');
    }
    expect(await requestsReceived(small)).toBe(before);
  });

  it('a failover to a node with a larger context allows no more output than admission reserved for', async () => {
    // Admission on the 1024 node dropped the default (the reservation covers 1024 output tokens); the
    // 8192 node that takes over is sent max_tokens 1024, not 4096 or none.
    let failedOver = 0;
    for (let i = 0; i < 4; i++) {
      const res = await client.chat.completions.create({ model: 'refit-up', messages });
      const run = await closedCompletion(res.id);
      expect(run.node).toBe('d-big');
      if (!run.steps.includes('selectNode')) continue;
      failedOver++;
      expect(res.usage!.completion_tokens).toBe(1024);
      expect(res.choices[0].finish_reason).toBe('length');
    }
    expect(failedOver).toBeGreaterThanOrEqual(1);
  });
});
