import { STATUS_CODES } from 'node:http';
import { capLayers, capWindows, type CapLayer, type CapWindow } from '../../protocol/budget.js';
import type { GenieError } from '../../protocol/errors.js';
import { codeBlock, esc, highlightJson, inline } from './html.js';

// The Budgets section's generated parts. Layers and windows come from protocol/budget.ts — the same
// lists, in the same order, that admission checks — so the page's order is the refusal order.

const layerTexts = {
  org: 'Everything the organisation spends, all applications and members together.',
  application: 'One application of the organisation (every key issued to it).',
  member: "One member's use within this organisation, across its applications.",
  user: 'User-global: one person across every organisation they belong to.',
} satisfies Record<CapLayer, string>;

const layerIds = {
  org: '`org_id`',
  application: '`application_id`',
  member: '`member_id`',
  user: '`user_id`',
} satisfies Record<CapLayer, string>;

const windowWords = { minute: 'minute', hour: 'hour', day: 'day', month: 'month' } satisfies Record<CapWindow, string>;

function layers(): string {
  const chain = capLayers.map((l, i) => `<li><span class="layer-step">${i + 1}</span><code>${esc(l)}</code></li>`).join('');
  const rows = capLayers
    .map((l, i) => `<tr><th scope="row"><span class="layer-step">${i + 1}</span> <code>${esc(l)}</code></th><td>${inline(layerTexts[l])}</td><td>${inline(layerIds[l])}</td></tr>`)
    .join('\n');
  return `<ol class="layer-chain" aria-label="Cap layers, in the order they are checked">${chain}</ol>
<div class="table-wrap" tabindex="0" role="region" aria-labelledby="layers-caption"><table class="layers-table">
<caption id="layers-caption">The cap stack, checked in this order</caption>
<thead><tr><th scope="col">Layer (<code>capLayer</code>)</th><th scope="col">Caps spending of</th><th scope="col">Subject (<code>GET /v1/me</code>)</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

const joinWords = (words: readonly string[]) => `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;

/** A 402 as it arrives: status line, headers, body — the body straight from the refusal factory. */
function refusal(err: GenieError): string {
  const head = [`HTTP/1.1 ${err.body.status} ${STATUS_CODES[err.body.status] ?? ''}`, ...Object.entries(err.body.headers ?? {}).map(([k, v]) => `${k.replace(/(^|-)\w/g, (c) => c.toUpperCase())}: ${v}`), 'Content-Type: application/json'];
  return codeBlock(`${esc(head.join('\n'))}\n\n${highlightJson(err.toEnvelope())}`, { label: '402 Payment Required', lang: 'http' });
}

export const budgetSlots = {
  layers,
  refusal,
  windows: () => joinWords(capWindows.map((w) => `<code>${esc(windowWords[w])}</code>`)),
  chain: () => capLayers.map((l) => (l === 'user' ? 'user-global' : l)).join(' → '),
  layerValues: () => capLayers.map((l) => `<code>${esc(l)}</code>`).join(' | '),
  windowValues: () => capWindows.map((w) => `<code>${esc(w)}</code>`).join(' | '),
};
