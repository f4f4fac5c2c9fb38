import { startSimulator } from '../../../simulator/server.js';
import { extras, say, triton, vllm } from './fleet.js';

/** The simulator's answers compared with the real engines' where tests rely on them. */
export function simulatorParity(): void {
  describe('the simulator answers like the real vLLM where tests rely on it', () => {
    const ask = (url: string, body: unknown) =>
      fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

    it('refuses the same requests with the same status, type, param and message', async () => {
      const sim = await startSimulator({ port: 0, models: ['tiny-vllm'], maxModelLen: 1024 });
      extras.push(sim);
      for (const body of [
        { model: 'tiny-vllm', messages: say, max_tokens: 5000 },
        { model: 'tiny-vllm', messages: say, max_tokens: 5000, stream: true },
      ]) {
        const [real, simulated] = [await ask(vllm.url, body), await ask(sim.url, body)];
        expect(simulated).toEqual(real);
      }
      const [real, simulated] = [await ask(vllm.url, { model: 'nope', messages: say }), await ask(sim.url, { model: 'nope', messages: say })];
      expect(simulated.status).toBe(real.status);
      expect(simulated.body.error).toMatchObject({ type: real.body.error.type, param: real.body.error.param, code: real.body.error.code });
      const list = async (url: string) => ((await (await fetch(`${url}/v1/models`)).json()) as { data: Array<{ max_model_len: number }> }).data[0].max_model_len;
      expect(await list(sim.url)).toBe(await list(vllm.url));
    });
  });

  describe('the simulator answers like the real Triton where tests rely on it', () => {
    const call = async (base: string, method: string, route: string, body?: unknown) => {
      const res = await fetch(`${base}${route}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, type: res.headers.get('content-type')?.split(';')[0] ?? null, body: text };
    };

    it('matches the raw path, strict readiness, parameter types and seed range as Triton does', async () => {
      const sim = await startSimulator({ engine: 'triton', port: 0, models: ['qwen3:8b', 'broken'], failLoadModel: ['broken'] });
      extras.push(sim);
      const same = async (method: string, route: string, body?: unknown) => {
        const [real, simulated] = [await call(triton.url, method, route, body), await call(sim.url, method, route, body)];
        expect({ route, ...simulated }).toEqual({ route, ...real });
      };
      await same('POST', '/v2/models/qwen3%3A8b/generate_stream', { text_input: 'hi', max_tokens: 2 });
      await same('POST', '/v2/models/qwen3:8b/generate_stream', { text_input: 'hi', max_tokens: 2, parameters: { stop: ['x'] } });
      await same('POST', '/v2/models/qwen3:8b/generate_stream', { text_input: 'hi', parameters: { max_tokens: 2, random_seed: -1 } });
      await same('GET', '/v2/models/broken/ready');
      expect((await call(sim.url, 'GET', '/v2/health/ready')).status).toBe((await call(triton.url, 'GET', '/v2/health/ready')).status);
      const states = async (base: string) =>
        ((await (await fetch(`${base}/v2/repository/index`, { method: 'POST', body: '{}' })).json()) as Array<{ name: string; state: string }>)
          .filter((m) => m.name === 'qwen3:8b' || m.name === 'broken')
          .map((m) => `${m.name}:${m.state}`)
          .sort();
      expect(await states(sim.url)).toEqual(await states(triton.url));
      // Metrics live on their own port, not on the HTTP one.
      expect((await fetch(`${sim.url}/metrics`)).status).toBeGreaterThanOrEqual(400);
      expect((await fetch(`${triton.url}/metrics`)).status).toBeGreaterThanOrEqual(400);
      expect((await fetch(sim.metricsUrl)).status).toBe(200);
    });
  });
}
