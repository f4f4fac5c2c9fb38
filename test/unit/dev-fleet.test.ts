import { devFleet } from '../../workers/stack/dev-fleet.js';

// `make dev` with your own engines (issue 14): the launcher used to overwrite GENIE_NODES with its simulators.
describe('the fleet make dev registers', () => {
  const simulated = 'vllm=http://127.0.0.1:9101,triton=http://127.0.0.1:9102;metrics=http://127.0.0.1:9103/metrics';

  it('is yours when GENIE_NODES is set', () => {
    expect(devFleet(simulated, { GENIE_NODES: 'gpu1:vllm=http://gpu1.internal:8000' })).toEqual({ nodes: 'gpu1:vllm=http://gpu1.internal:8000', own: true, fleet: 'own' });
  });

  it('is yours when only GENIE_NODES_FILE is set (the workers read the file)', () => {
    expect(devFleet(simulated, { GENIE_NODES_FILE: '/etc/genie/nodes.json' })).toEqual({ nodes: '', own: true, fleet: 'own' });
  });

  it('is a fleet of its own, so simulators an earlier plain make dev registered are not chosen beside your nodes', () => {
    expect(devFleet(simulated, { GENIE_NODES: 'gpu1:vllm=http://gpu1.internal:8000', GENIE_FLEET: 'lab' }).fleet).toBe('lab');
  });

  it('is the simulators otherwise (an empty value counts as unset)', () => {
    expect(devFleet(simulated, {})).toEqual({ nodes: simulated, own: false });
    expect(devFleet(simulated, { GENIE_NODES: '', GENIE_NODES_FILE: '' })).toEqual({ nodes: simulated, own: false });
  });
});
