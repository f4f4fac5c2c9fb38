import { GenieError } from '../../protocol/errors.js';
import { contextExceeded } from '../../protocol/max-tokens.js';
import { failures } from '../../protocol/failures.js';
import type { NodeRecord } from '../../protocol/node.js';
import type { NodeRef } from './node-list.js';
import type { NodeDirectory } from './node-directory.js';
import { refOf } from './node-ref.js';

export interface SelectNodeInput {
  model: string;
  /** Nodes that already failed this completion before its first token. */
  exclude: string[];
  /** What the request needs (tools, json_object, json_schema): only nodes declaring all of it qualify. */
  capabilities?: string[];
  /** Excluded nodes that did not answer at all: marked suspect in the registry until the next probe. */
  suspect?: string[];
  /** The caller's own max_tokens: only nodes whose context length (when known) holds it qualify. */
  maxTokens?: number;
}
export interface SelectNodeResult {
  node: NodeRef;
  candidates: number;
  /** Every candidate's score (lower is better) and the two compared: recorded in history to explain a placement. */
  scores: Record<string, number>;
  compared: string[];
}

/**
 * Load score from the node's own metrics plus the completions this process has in flight there:
 * queued requests weigh most (they are latency), then KV-cache pressure, then running sequences.
 */
export function loadScore(n: NodeRecord, inFlight: number): number {
  const l = n.load;
  return 4 * (l?.waiting ?? 0) + 1 * (l?.running ?? 0) + 10 * (l?.kvCacheUsage ?? 0) + inFlight;
}

export type SelectionPolicy = 'p2c' | 'round-robin';

export function createSelectNode(
  directory: NodeDirectory,
  inFlight: (node: string) => number = () => 0,
  random: () => number = Math.random,
  policy: SelectionPolicy = 'p2c',
  markSuspect: (names: string[]) => Promise<void> = async () => undefined,
) {
  let turn = 0; // round-robin only: kept as the baseline the benchmark compares load-aware selection with
  return async function selectNode({ model, exclude, capabilities = [], suspect = [], maxTokens }: SelectNodeInput): Promise<SelectNodeResult> {
    // Only a node that did not answer is suspect: one that answered 5xx (say, a model that failed to
    // load) still serves its other models.
    if (suspect.length) {
      await markSuspect(suspect);
      await directory.refresh();
    }
    let view = directory.snapshot();
    if (!view.some((s) => s.models.includes(model))) {
      await directory.refresh(); // a node registered a moment ago must not look like an unknown model
      view = directory.snapshot();
    }
    const serving = view.filter((s) => s.models.includes(model));
    if (serving.length === 0) {
      throw failures.genie(GenieError.modelNotFound(model).body);
    }
    const capable = serving.filter((s) => capabilities.every((c) => s.capabilities.includes(c)));
    if (capable.length === 0) {
      const missing = capabilities.filter((c) => !serving.some((s) => s.capabilities.includes(c)));
      const param = missing.includes('tools') ? 'tools' : 'response_format';
      const body = GenieError.badRequest(`No node serving ${model} supports ${missing.join(' and ')}; use a model whose nodes do (vLLM nodes support tools and structured outputs).`, param, 'unsupported_capability').body;
      throw failures.genie(body);
    }
    // A caller's max_tokens beyond every capable node's context is the caller's 400, before any node
    // call; beyond some of them, the others serve it (a failover never moves it to a node too small).
    const contextOf = (n: NodeRecord) => refOf(n, model).model?.contextLength;
    const fitting = maxTokens === undefined ? capable : capable.filter((s) => (contextOf(s) ?? Infinity) >= maxTokens);
    if (fitting.length === 0) {
      throw failures.genie(contextExceeded(maxTokens!, Math.max(...capable.map((s) => contextOf(s) ?? 0))));
    }
    // Draining nodes finish what they have but take nothing new; down nodes failed their probe.
    const candidates = fitting.filter((s) => s.state === 'active' && s.healthy && !exclude.includes(s.name));
    if (candidates.length === 0) {
      const body = GenieError.unavailable(`no healthy node can serve ${model} right now`).body;
      // A node this completion has not failed on yet is only down or draining: it may come back (a
      // probe flap, a node restart), and an async job may wait for it. Nodes it failed on stay failed.
      throw failures.genie(body, null, { nodesMayReturn: fitting.some((s) => !exclude.includes(s.name)) });
    }
    const scores = Object.fromEntries(candidates.map((c) => [c.name, loadScore(c, inFlight(c.name))]));
    // Power of two choices: two random candidates, the less loaded wins — near-best placement without
    // every router stampeding onto the same "least loaded" node between two metric scrapes.
    const ref = (n: NodeRecord): NodeRef => refOf(n, model);
    if (policy === 'round-robin') {
      const next = candidates[turn++ % candidates.length];
      return { node: ref(next), candidates: candidates.length, scores, compared: [next.name] };
    }
    const a = candidates[Math.floor(random() * candidates.length)];
    const rest = candidates.filter((c) => c !== a);
    const b = rest.length ? rest[Math.floor(random() * rest.length)] : a;
    const chosen = scores[b.name] < scores[a.name] ? b : a;
    return { node: ref(chosen), candidates: candidates.length, scores, compared: [...new Set([a.name, b.name])] };
  };
}
