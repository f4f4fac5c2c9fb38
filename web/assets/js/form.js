// The "Try it" form: model/persona select, mode, the messages editor and the sampling numbers.
// Defaults and input ranges come from the page's config, which the server derives from the request
// schema, so the form cannot offer what the API would refuse.

const $ = (id) => document.getElementById(id);
const ROLES = ['system', 'developer', 'user', 'assistant'];
const NUMBERS = ['temperature', 'top_p', 'max_tokens'];

let messageSeq = 0;

/** One message row: role select + content textarea + remove button, each with its own label. */
function messageRow(msg, onChange) {
  const n = ++messageSeq;
  const li = document.createElement('li');
  li.className = 'message';
  const roleId = `msg-role-${n}`;
  const contentId = `msg-content-${n}`;
  li.innerHTML = `
    <div class="message-head">
      <label class="sr-only" for="${roleId}">Role</label>
      <select id="${roleId}" class="message-role"></select>
      <button type="button" class="button button-small button-ghost message-remove">Remove</button>
    </div>
    <label class="sr-only" for="${contentId}">Content</label>
    <textarea id="${contentId}" class="message-content" rows="2" spellcheck="true"></textarea>`;
  const role = li.querySelector('select');
  for (const r of ROLES) role.append(new Option(r, r, false, r === msg.role));
  const content = li.querySelector('textarea');
  content.value = msg.content;
  li.querySelector('.message-remove').addEventListener('click', () => {
    const list = li.parentElement;
    if (list.children.length <= 1) return; // the API needs at least one message
    const next = li.nextElementSibling ?? li.previousElementSibling;
    li.remove();
    renumber(list);
    next?.querySelector('textarea')?.focus();
    onChange();
  });
  role.addEventListener('change', onChange);
  content.addEventListener('input', onChange);
  return li;
}

/** Accessible names that say which message a control belongs to ("Message 2 role"). */
function renumber(list) {
  [...list.children].forEach((li, i) => {
    li.querySelector('.message-role').setAttribute('aria-label', `Message ${i + 1} role`);
    li.querySelector('.message-content').setAttribute('aria-label', `Message ${i + 1} content`);
    li.querySelector('.message-remove').setAttribute('aria-label', `Remove message ${i + 1}`);
    li.querySelector('.message-remove').disabled = list.children.length <= 1;
  });
}

export function initForm(config, onChange) {
  const d = config.defaults;
  // Anonymous: the default model and the persona aliases; signing in loads what is really served.
  setModelOptions([{ id: d.model }, ...config.personas.map((id) => ({ id, persona_of: null }))], d.model);
  const modeInput = document.querySelector(`input[name="mode"][value="${d.mode}"]`);
  if (modeInput) modeInput.checked = true;
  for (const key of NUMBERS) {
    const input = $(key);
    const r = config.ranges[key];
    if (r.min !== null) input.min = String(r.min);
    if (r.max !== null) input.max = String(r.max);
    input.value = d[key] ?? '';
    input.addEventListener('input', onChange);
  }
  const list = $('message-list');
  for (const m of d.messages) list.append(messageRow(m, onChange));
  renumber(list);
  $('add-message').addEventListener('click', () => {
    const last = list.lastElementChild?.querySelector('.message-role')?.value;
    const row = messageRow({ role: last === 'user' ? 'assistant' : 'user', content: '' }, onChange);
    list.append(row);
    renumber(list);
    row.querySelector('textarea').focus();
    onChange();
  });
  $('model').addEventListener('change', onChange);
  document.querySelectorAll('input[name="mode"]').forEach((i) => i.addEventListener('change', onChange));
}

/**
 * Fills the model select: served models first, then personas labelled with their target. Keeps the
 * current choice when the new list still has it.
 */
export function setModelOptions(entries, preferred) {
  const select = $('model');
  const keep = preferred ?? select.value;
  select.replaceChildren();
  const models = entries.filter((e) => !('persona_of' in e));
  const personas = entries.filter((e) => 'persona_of' in e);
  const group = (label, items, text) => {
    if (!items.length) return;
    const g = document.createElement('optgroup');
    g.label = label;
    for (const e of items) g.append(new Option(text(e), e.id));
    select.append(g);
  };
  group('Models', models, (e) => e.id);
  group('Personas', personas, (e) => (e.persona_of ? `${e.id} → ${e.persona_of}` : e.id));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

function numberValue(key, ranges, errors) {
  const raw = $(key).value.trim();
  if (raw === '') return undefined;
  const v = Number(raw);
  const r = ranges[key];
  const tooLow = r.min !== null && (r.exclusiveMin ? v <= r.min : v < r.min);
  const tooHigh = r.max !== null && v > r.max;
  if (!Number.isFinite(v) || (r.integer && !Number.isInteger(v)) || tooLow || tooHigh) {
    const lo = r.min === null ? '' : `${r.exclusiveMin ? '>' : '≥'} ${r.min}`;
    const hi = r.max === null ? '' : `≤ ${r.max}`;
    errors.push(`${key} must be ${r.integer ? 'an integer' : 'a number'}${lo || hi ? ` ${[lo, hi].filter(Boolean).join(' and ')}` : ''}.`);
    $(key).setAttribute('aria-invalid', 'true');
    return undefined;
  }
  $(key).removeAttribute('aria-invalid');
  return v;
}

/** The form as the widget's request model, plus any problems a reader should fix before running. */
export function readForm(config) {
  const errors = [];
  const messages = [...$('message-list').children].map((li) => ({
    role: li.querySelector('.message-role').value,
    content: li.querySelector('.message-content').value,
  }));
  const form = {
    model: $('model').value,
    messages,
    mode: document.querySelector('input[name="mode"]:checked')?.value ?? 'sync',
  };
  for (const key of NUMBERS) {
    const v = numberValue(key, config.ranges, errors);
    if (v !== undefined) form[key] = v;
  }
  if (!form.model) errors.push('Choose a model or persona.');
  if (!messages.some((m) => m.content.trim())) errors.push('Write at least one message.');
  return { form, errors };
}
