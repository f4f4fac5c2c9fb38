import { parseSimulatorArgs, usage } from './options.js';
import { startSimulator } from './server.js';
import { exitWithParent } from '../workers/exit-with-parent.js';

const parsed = parseSimulatorArgs(process.argv.slice(2));
if (parsed === 'help') {
  console.log(usage);
  process.exit(0);
}
const sim = await startSimulator(parsed);
// One machine-readable line: the stack launcher and tests read the chosen port from it.
console.log(JSON.stringify({ event: 'simulator.ready', url: sim.url, metricsUrl: sim.metricsUrl, engine: parsed.engine, models: parsed.models }));
const stop = () => void sim.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
exitWithParent(stop);
