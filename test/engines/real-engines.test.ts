import { budgetsOnRealCounts, loadAwareRouting } from './real-engines/budgets-and-routing.js';
import { startRealEngines } from './real-engines/fleet.js';
import { simulatorParity } from './real-engines/parity.js';
import { tritonBehindGenie } from './real-engines/triton.js';
import { vllmBehindGenie } from './real-engines/vllm.js';


// Genie on real engines (issue 14): a real vLLM (CPU build, a tiny random-weight Qwen2 the harness
// makes) and a real Triton 2.51 (decoupled Python models shaped like TensorRT-LLM's ensemble and the
// vLLM backend), through the official SDK. Random weights write gibberish: the assertions are about
// shapes, usage arithmetic and error mapping, never about text.
// One engine start for all of it (real-engines/fleet.ts); the concerns live in real-engines/.

startRealEngines();
vllmBehindGenie();
budgetsOnRealCounts();
simulatorParity();
tritonBehindGenie();
loadAwareRouting();
