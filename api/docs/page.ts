import { readFileSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { PERSONA_ALIASES } from '../../db/personas.js';
import {
  exampleAsyncAccepted,
  exampleBudgetRefusal,
  exampleCompletedJob,
  exampleErrors,
  exampleModelList,
  exampleRequest,
  exampleStreamChunks,
  exampleStreamErrorChunks,
  exampleSyncResponse,
  tryItDefaults,
  webhookVerifySnippet,
} from '../../protocol/examples.js';
import { curlSnippet, nodeSnippet, pythonSnippet } from '../../web/assets/js/snippets.js';
import { codeBlock, esc, highlightJson, inline, jsonBlock, sseBlock } from './html.js';
import { parameterTableRows, requestJsonSchema, unsupportedParamList } from './parameters.js';
import { MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES, MAX_SCHEMA_PATTERN_CHARS } from '../../protocol/json-schema.js';
import { formatBytes, MAX_REQUEST_BODY_BYTES } from '../../protocol/request-limits.js';
import { budgetSlots } from './budgets.js';
import { personaSlots } from './personas.js';
import { batchSlots } from './batches.js';

// GET / : web/index.html with its `<!--genie:name-->` slots filled. Prose stays in the HTML; what
// can drift (parameters, bodies, errors, layers, personas) is generated here from the code the API
// runs. A slot without a generator, or a generator without a slot, throws at the first render, so a
// half-renamed slot cannot ship silently.

export const WEB_DIR = path.resolve(import.meta.dirname, '../../web');

type Slots = Record<string, string>;

/** JSON for a `<script type="application/json">`: `<` escaped so a value cannot close the tag. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** The widget's configuration: its defaults and the request schema's own ranges for the inputs. */
function widgetConfig(): unknown {
  const props = requestJsonSchema().properties ?? {};
  const range = (key: string) => {
    const s = props[key];
    const num = typeof s === 'object' ? (s.anyOf ?? [s]).find((x) => x.type === 'number' || x.type === 'integer') : undefined;
    return { min: num?.minimum ?? num?.exclusiveMinimum ?? null, exclusiveMin: num?.exclusiveMinimum !== undefined, max: num?.maximum ?? null, integer: num?.type === 'integer' };
  };
  return {
    defaults: tryItDefaults,
    personas: PERSONA_ALIASES,
    ranges: { temperature: range('temperature'), top_p: range('top_p'), max_tokens: range('max_tokens') },
  };
}

function sdkExamples(origin: string): string {
  const body = exampleRequest as unknown as Record<string, unknown>;
  return [
    codeBlock(esc(curlSnippet(origin, body)), { label: 'curl', lang: 'shell' }),
    codeBlock(esc(nodeSnippet(origin, body)), { label: 'Node — openai', lang: 'js' }),
    codeBlock(esc(pythonSnippet(origin, body)), { label: 'Python — openai', lang: 'python' }),
  ].join('\n');
}

function errorTable(): string {
  const rows = exampleErrors.map(({ when, error }) => {
    const { status, type, code } = error.body;
    return `<tr>
  <th scope="row"><span class="status status-${Math.floor(status / 100)}xx">${status}</span> <span class="status-text">${esc(STATUS_CODES[status] ?? '')}</span></th>
  <td><code>${esc(type)}</code></td>
  <td>${code ? `<code>${esc(code)}</code>` : '<span class="muted">null</span>'}</td>
  <td>${inline(when)}<details><summary>Example body</summary><pre tabindex="0"><code>${highlightJson(error.toEnvelope())}</code></pre></details></td>
</tr>`;
  });
  return `<div class="table-wrap" tabindex="0" role="region" aria-labelledby="errors-caption"><table class="errors-table">
<caption id="errors-caption">Error statuses, OpenAI <code>type</code> and <code>code</code></caption>
<thead><tr><th scope="col">Status</th><th scope="col">type</th><th scope="col">code</th><th scope="col">When</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table></div>`;
}

/** The limits a request is held to, from the constants the edge enforces. */
function limitsList(): string {
  const items = [
    `The request body: at most ${formatBytes(MAX_REQUEST_BODY_BYTES)} (${MAX_REQUEST_BODY_BYTES} bytes), what a workflow can carry; larger is a \`413 request_too_large\`.`,
    `Each JSON Schema (\`response_format.json_schema.schema\` and every tool's \`parameters\`, strict or not): at most ${formatBytes(MAX_SCHEMA_BYTES)}, ${MAX_SCHEMA_DEPTH} levels of nesting, ${MAX_SCHEMA_NODES} subschemas (JSON objects) and ${MAX_SCHEMA_PATTERN_CHARS} characters of \`pattern\`s together; beyond that a \`400\` names the schema's \`param\`.`,
    'A `pattern` is matched with RE2 (linear time, whatever the output): no backreferences or lookarounds — a strict schema using them is a `400`.',
  ];
  return `<ul class="limits">${items.map((t) => `<li>${inline(t)}</li>`).join('')}</ul>`;
}

function staticSlots(): Slots {
  return {
    config: scriptJson(widgetConfig()),
    'try-it': readFileSync(path.join(WEB_DIR, 'try-it.html'), 'utf8'),
    'param-rows': parameterTableRows(),
    'unsupported-params': unsupportedParamList(),
    'sync-example': jsonBlock(exampleSyncResponse, 'Sync response body'),
    'stream-example': sseBlock(exampleStreamChunks, 'Stream response'),
    'stream-error-example': sseBlock(exampleStreamErrorChunks, 'Stream with an inline error'),
    'async-example': jsonBlock(exampleAsyncAccepted, '202 Accepted body'),
    'job-example': jsonBlock(exampleCompletedJob, 'GET /v1/jobs/:id — a completed job'),
    'models-example': jsonBlock(exampleModelList, 'GET /v1/models'),
    'webhook-verify': codeBlock(esc(webhookVerifySnippet), { label: 'Verify X-Genie-Signature (Node)', lang: 'js' }),
    'budget-402': budgetSlots.refusal(exampleBudgetRefusal),
    'cap-layers': budgetSlots.layers(),
    'cap-windows': budgetSlots.windows(),
    'cap-chain': esc(budgetSlots.chain()),
    'cap-layer-values': budgetSlots.layerValues(),
    'cap-window-values': budgetSlots.windowValues(),
    personas: personaSlots.table(),
    errors: errorTable(),
    limits: limitsList(),
    'batch-limits': batchSlots.limits(),
    'batch-example': batchSlots.example(),
  };
}

function originSlots(origin: string): Slots {
  return {
    origin: esc(origin),
    endpoint: codeBlock(esc(`POST ${origin}/v1/chat/completions\nAuthorization: Bearer sk-genie-{your-key}\nContent-Type: application/json`), { label: 'HTTP', lang: 'http' }),
    'sdk-examples': sdkExamples(origin),
  };
}

const SLOT = /<!--genie:([a-z0-9-]+)-->/g;

export function fillSlots(template: string, slots: Slots): string {
  const used = new Set<string>();
  const out = template.replace(SLOT, (_m, name: string) => {
    if (!(name in slots)) throw new Error(`docs page: no generator for slot "${name}"`);
    used.add(name);
    return slots[name];
  });
  const unused = Object.keys(slots).filter((k) => !used.has(k));
  if (unused.length) throw new Error(`docs page: slots without a place in the template: ${unused.join(', ')}`);
  return out;
}

let cached: { template: string; slots: Slots } | null = null;

/** The whole page for one origin (scheme + host the reader used, shown in the examples). */
export function renderDocsPage(origin: string): string {
  cached ??= { template: readFileSync(path.join(WEB_DIR, 'index.html'), 'utf8'), slots: staticSlots() };
  return fillSlots(cached.template, { ...cached.slots, ...originSlots(origin) });
}
