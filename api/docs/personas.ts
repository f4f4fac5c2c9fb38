import { DEV_PERSONAS, PERSONA_ALIASES, type PersonaAlias } from '../../db/personas.js';
import { esc, inline } from './html.js';

// The Personas table: aliases from the same list the API resolves, with the targets `make dev` seeds
// (a deployment re-points them; `GET /v1/models` shows the live mapping in `persona_of`).

const tiers = {
  lite: 'Smallest and fastest: classification, extraction, short answers.',
  standard: 'The everyday default for chat and summaries.',
  pro: 'A large model for harder reasoning and longer answers.',
  coder: 'Tuned for code: completion, review, tool calls.',
  heavy: 'The largest model available, for the hardest prompts.',
} satisfies Record<PersonaAlias, string>;

function table(): string {
  const rows = PERSONA_ALIASES.map((a) => `<tr><th scope="row"><code>${esc(a)}</code></th><td>${inline(tiers[a])}</td><td><code>${esc(DEV_PERSONAS[a])}</code></td></tr>`).join('\n');
  return `<div class="table-wrap" tabindex="0" role="region" aria-labelledby="personas-caption"><table class="personas-table">
<caption id="personas-caption">Persona aliases</caption>
<thead><tr><th scope="col">Alias</th><th scope="col">Meant for</th><th scope="col">Default target (<code>make dev</code>)</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

export const personaSlots = { table };
