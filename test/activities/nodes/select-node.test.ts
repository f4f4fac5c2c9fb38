import { createSelectNode, loadScore } from '../../../activities/nodes/select-node.js';
import type { NodeDirectory } from '../../../activities/nodes/node-directory.js';
import type { NodeRecord } from '../../../protocol/node.js';
import { readFailure } from '../../../protocol/failures.js';

// Unit level: the registry view is a fake at the boundary; the scoring and choice are the real code.

const node = (name: string, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id: name,
  fleet: 'f',
  name,
  url: `http://${name}`,
  engine: 'vllm',
  metricsUrl: null,
  modelNames: {},
  contextLengths: {},
  state: 'active',
  models: ['m'],
  modelInfo: {},
  capabilities: [],
  healthy: true,
  load: { running: 0, waiting: 0, kvCacheUsage: 0, finished: null },
  lastProbe: null,
  probedAt: null,
  ...extra,
});
const directoryOf = (nodes: NodeRecord[]) => ({ snapshot: () => nodes, refresh: async () => undefined }) as unknown as NodeDirectory;

describe('selectNode', () => {
  it('scores queued work above KV pressure above running sequences, plus in-flight', () => {
    expect(loadScore(node('a', { load: { running: 2, waiting: 1, kvCacheUsage: 0.5, finished: null } }), 3)).toBe(4 + 2 + 5 + 3);
    expect(loadScore(node('a', { load: null }), 0)).toBe(0);
  });

  it('of the two nodes compared, picks the less loaded, and records every score', async () => {
    const busy = node('busy', { load: { running: 8, waiting: 5, kvCacheUsage: 0.9, finished: null } });
    const idle = node('idle');
    const select = createSelectNode(directoryOf([busy, idle]));
    const picks = await Promise.all(Array.from({ length: 50 }, () => select({ model: 'm', exclude: [] })));
    expect(picks.every((p) => p.node.name === 'idle')).toBe(true);
    expect(picks[0].scores).toEqual({ busy: 4 * 5 + 8 + 9, idle: 0 });
  });

  it('spreads evenly loaded work across nodes instead of stampeding one', async () => {
    const select = createSelectNode(directoryOf([node('a'), node('b'), node('c')]));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 300; i++) {
      const { node: n } = await select({ model: 'm', exclude: [] });
      counts[n.name] = (counts[n.name] ?? 0) + 1;
    }
    for (const name of ['a', 'b', 'c']) expect(counts[name]).toBeGreaterThan(50);
  });

  it('never picks a draining, down, unhealthy or excluded node', async () => {
    const select = createSelectNode(
      directoryOf([node('draining', { state: 'draining' }), node('down', { state: 'down' }), node('sick', { healthy: false }), node('failed'), node('ok')]),
    );
    for (let i = 0; i < 30; i++) expect((await select({ model: 'm', exclude: ['failed'] })).node.name).toBe('ok');
  });

  it('404 for a model nobody serves, 503 when its nodes are all unavailable', async () => {
    const select = createSelectNode(directoryOf([node('a', { healthy: false })]));
    await expect(select({ model: 'other', exclude: [] })).rejects.toMatchObject({ details: [expect.objectContaining({ status: 404, code: 'model_not_found' })] });
    await expect(select({ model: 'm', exclude: [] })).rejects.toMatchObject({ details: [expect.objectContaining({ status: 503 }), null, { nodesMayReturn: true }] });
  });

  it('says a node may come back only while one this completion has not failed on serves the model', async () => {
    const select = createSelectNode(directoryOf([node('failed'), node('down', { healthy: false }), node('draining', { state: 'draining' })]));
    const refusal = (exclude: string[]) => select({ model: 'm', exclude }).then(() => null, readFailure);
    // Down or draining: an async job may wait for either to come back.
    expect(await refusal(['failed'])).toMatchObject({ kind: 'genie', body: { status: 503 }, nodesMayReturn: true });
    expect(await refusal(['failed', 'down'])).toMatchObject({ kind: 'genie', nodesMayReturn: true });
    // Every node serving it already failed this completion: waiting cannot help.
    expect(await refusal(['failed', 'down', 'draining'])).toMatchObject({ kind: 'genie', body: { status: 503 }, nodesMayReturn: false });
  });

  it('sends a caller’s max_tokens only to nodes whose context holds it; none → 400 naming max_tokens', async () => {
    const small = node('small', { modelInfo: { m: { contextLength: 1024 } } });
    const configured = node('configured', { engine: 'triton', contextLengths: { m: 2048 } });
    const select = createSelectNode(directoryOf([small, configured]));
    for (let i = 0; i < 20; i++) expect((await select({ model: 'm', exclude: [], maxTokens: 1500 })).node).toMatchObject({ name: 'configured', model: { contextLength: 2048 } });
    await expect(select({ model: 'm', exclude: [], maxTokens: 4000 })).rejects.toMatchObject({
      details: [expect.objectContaining({ status: 400, param: 'max_tokens', code: 'context_length_exceeded', message: expect.stringContaining('context length of 2048') })],
    });
    // On failover, a node too small is no candidate: 503, and the workflow reports the last node's error.
    await expect(select({ model: 'm', exclude: ['configured'], maxTokens: 1500 })).rejects.toMatchObject({ details: [expect.objectContaining({ status: 503 })] });
  });
});
