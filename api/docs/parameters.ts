import { z } from 'zod';
import { chatCompletionRequestSchema, unsupportedParams } from '../../protocol/chat-request.js';
import { esc, inline } from './html.js';

// The request-body table on the docs page, generated from the request schema itself: names, types,
// ranges and required-ness come from z.toJSONSchema, the prose from the texts below. `satisfies`
// makes a new schema key without a text a type error, and test/browser/docs-content.test.ts checks
// the rendered table against the schema's keys, so the page cannot fall behind the validator.

type RequestKey = keyof typeof chatCompletionRequestSchema.shape;

const texts = {
  model: 'A model id from `GET /v1/models`, or a persona alias (`lite`, `standard`, `pro`, `coder`, `heavy`). The response names the resolved model.',
  messages: 'The conversation, OpenAI shape: `{ role, content, name?, tool_call_id?, tool_calls? }` with role `system`, `developer`, `user`, `assistant` or `tool`. Content is a string or text parts; image parts are refused with 400 naming the part.',
  mode: 'Genie: `sync` (default), `stream` (SSE) or `async` (202 + a job to poll or a webhook). Wins over `stream` when both are given.',
  stream: '`true` for Server-Sent Events deltas (same as `mode: "stream"`). Conflicts with `mode` `sync` or `async` (400, `param: "stream"`).',
  stream_options: 'Stream only. `include_usage: true` adds a final chunk with `usage` and empty `choices`.',
  temperature: 'Sampling temperature. Higher is more random.',
  top_p: 'Nucleus sampling: only tokens within the top `top_p` probability mass are considered.',
  max_tokens: 'Upper bound on generated tokens. Also sizes the budget reservation (see Budgets); without it the server default applies.',
  max_completion_tokens: "OpenAI's newer name for `max_tokens`; wins when both are set.",
  stop: 'Up to 4 sequences where generation stops; the stop sequence is not returned.',
  seed: 'Best-effort determinism: the same seed and request give the same tokens on the same node.',
  presence_penalty: 'Penalises tokens that already appeared, encouraging new topics.',
  frequency_penalty: 'Penalises tokens by how often they appeared, reducing repetition.',
  tools: 'Functions the model may call: `{ type: "function", function: { name, description?, parameters?, strict? } }`. Routed only to nodes that support tools.',
  tool_choice: '`none`, `auto`, `required`, or `{ type: "function", function: { name } }` naming one of `tools`.',
  parallel_tool_calls: 'Whether the model may call several tools in one turn.',
  response_format: '`{ type: "text" }`, `{ type: "json_object" }`, or `{ type: "json_schema", json_schema: { name, schema, strict } }`. With `strict: true` the output is validated against the schema.',
  n: 'Number of choices. Only `1` is served; larger values are refused by name rather than ignored.',
  user: 'Your end-user id, for your own tracing.',
  metadata: 'Up to 16 string pairs, echoed on the job (`GET /v1/jobs/:id`).',
  webhook: 'Genie, async only: `{ url, secret }`. The finished job is POSTed to `url`, signed with `secret` (see Webhooks).',
} satisfies Record<RequestKey, string>;

/** Descriptions attached to the very schema objects the validator uses (a registry, not a copy). */
const docsRegistry = z.registry<{ description: string }>();
for (const [key, description] of Object.entries(texts) as Array<[RequestKey, string]>) {
  docsRegistry.add(chatCompletionRequestSchema.shape[key], { description });
}

type Json = z.core.JSONSchema.JSONSchema;
/** JSON Schema allows `true`/`false` as schemas; zod emits objects for everything we document. */
const obj = (x: z.core.JSONSchema._JSONSchema | z.core.JSONSchema._JSONSchema[] | undefined): Json => (typeof x === 'object' && !Array.isArray(x) ? x : {});

/** The request body as JSON Schema (input side), with the page's descriptions. */
export function requestJsonSchema(): Json {
  return z.toJSONSchema(chatCompletionRequestSchema, { io: 'input', metadata: docsRegistry, unrepresentable: 'any' });
}

/** A short human type: `number`, `"sync" | "stream"`, `array of string`, `object { url, secret }`. */
export function typeLabel(s: Json, depth = 0): string {
  if (s.anyOf) {
    const parts = s.anyOf.flatMap((x) => typeLabel(x, depth).split(' | '));
    return [...new Set(parts)].join(' | ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  switch (s.type) {
    case 'array':
      return `array of ${typeLabel(obj(s.items), depth + 1)}`;
    case 'object':
      if (s.additionalProperties && !s.properties) return 'map of string';
      if (depth === 0 && s.properties) {
        const req = new Set<string>(s.required ?? []);
        return `object { ${Object.keys(s.properties).map((k) => (req.has(k) ? k : `${k}?`)).join(', ')} }`;
      }
      return 'object';
    case undefined:
      return 'any';
    default:
      return String(s.type);
  }
}

/** Ranges and sizes a reader needs before the validator tells them: `0 ≤ x ≤ 2`, `≤ 4 items`. */
export function constraintsLabel(s: Json): string {
  const out: string[] = [];
  const visit = (x: Json) => {
    if (x.anyOf) return x.anyOf.forEach(visit);
    // zod's .int() adds ±MAX_SAFE_INTEGER bounds: true, but noise to a reader.
    const bound = (n: number | boolean | undefined) => (typeof n === 'number' && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);
    const exclusiveMin = bound(x.exclusiveMinimum);
    const min = exclusiveMin !== undefined && x.type === 'integer' ? exclusiveMin + 1 : exclusiveMin ?? bound(x.minimum);
    const lo = min === undefined ? '' : exclusiveMin !== undefined && x.type !== 'integer' ? `${min} <` : `${min} ≤`;
    const max = bound(x.maximum);
    const hi = max === undefined ? '' : `≤ ${max}`;
    if (lo && hi) out.push(`${lo} x ${hi}`);
    else if (lo) out.push(lo.endsWith('<') ? `> ${min}` : `≥ ${min}`);
    else if (hi) out.push(hi);
    if (x.minItems !== undefined && x.minItems > 0) out.push(`≥ ${x.minItems} item${x.minItems > 1 ? 's' : ''}`);
    if (x.maxItems !== undefined) out.push(`≤ ${x.maxItems} items`);
    if (x.maxLength !== undefined && x.type === 'string') out.push(`≤ ${x.maxLength} chars`);
  };
  visit(s);
  return [...new Set(out)].join(', ');
}

export interface ParameterRow {
  name: string;
  required: boolean;
  nullable: boolean;
  type: string;
  constraints: string;
  description: string;
}

export function parameterRows(): ParameterRow[] {
  const js = requestJsonSchema();
  const required = new Set<string>(js.required ?? []);
  return Object.entries(js.properties ?? {}).map(([name, raw]) => {
    const s = obj(raw);
    const label = typeLabel(s);
    return {
      name,
      required: required.has(name),
      nullable: label.split(' | ').includes('null'),
      type: label.split(' | ').filter((p) => p !== 'null').join(' | '),
      constraints: constraintsLabel(s),
      description: s.description ?? '',
    };
  });
}

/** The `<tbody>` rows; one `id="param-<name>"` per top-level key (the drift test reads these). */
export function parameterTableRows(): string {
  return parameterRows()
    .map((r) => {
      // Everything but model and messages is optional: only the exceptions get a badge.
      const badges = [r.required ? '<span class="badge badge-required">required</span>' : '', r.nullable ? '<span class="badge">nullable</span>' : ''].filter(Boolean).join(' ');
      return `<tr id="param-${esc(r.name)}">
  <th scope="row"><code>${esc(r.name)}</code>${badges ? `<div class="badges">${badges}</div>` : ''}</th>
  <td><code class="type">${esc(r.type)}</code>${r.constraints ? `<div class="constraints">${esc(r.constraints)}</div>` : ''}</td>
  <td>${inline(r.description)}</td>
</tr>`;
    })
    .join('\n');
}

export function unsupportedParamList(): string {
  return unsupportedParams.map((p) => `<code>${esc(p)}</code>`).join(', ');
}
