import { highlightJson } from './highlight.js';

// The response pane: what a run shows, built from DOM nodes (text via textContent; only the
// escaping JSON highlighter produces HTML). The pane is aria-live, and aria-busy while a stream is
// running, so a screen reader announces the answer once rather than token by token.

const pane = () => document.getElementById('response-pane');
const statusLine = () => document.getElementById('response-status');

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function clearPane() {
  pane().replaceChildren();
  pane().setAttribute('aria-busy', 'false');
  setStatus('');
}

export function setBusy(busy) {
  pane().setAttribute('aria-busy', busy ? 'true' : 'false');
}

/** The one-line summary beside the pane heading: HTTP status, mode, timing, budget left. */
export function setStatus(text, tone = '') {
  const s = statusLine();
  s.textContent = text;
  s.className = `response-status${tone ? ` tone-${tone}` : ''}`;
}

export function showJson(value, label) {
  const block = el('div', 'pane-block');
  if (label) block.append(el('div', 'pane-label', label));
  const pre = el('pre', 'pane-json');
  const code = el('code');
  code.innerHTML = highlightJson(value);
  pre.append(code);
  block.append(pre);
  pane().append(block);
  return block;
}

export function showNote(text, tone = '') {
  pane().append(el('p', `pane-note${tone ? ` tone-${tone}` : ''}`, text));
}

/**
 * A growing text view for a stream: content is appended to one text node per run of text, and
 * markers (`[finish_reason: …]`, `[error] …`) go on lines of their own so they stand out.
 */
export function streamView() {
  const pre = el('pre', 'stream-output');
  pane().append(pre);
  let text = null;
  const endsWithNewline = () => (pre.textContent ?? '').endsWith('\n') || pre.textContent === '';
  return {
    append(content) {
      if (!content) return;
      if (!text) {
        text = document.createTextNode('');
        pre.append(text);
      }
      text.appendData(content);
    },
    marker(content, tone) {
      if (!endsWithNewline()) pre.append('\n');
      pre.append(el('span', `marker${tone ? ` tone-${tone}` : ''}`, content));
      pre.append('\n');
      text = null;
    },
  };
}

/** Seconds until an ISO instant, as "4 h 12 min" — what a reader actually wants from resetsAt. */
export function untilText(iso, now = Date.now()) {
  const ms = Date.parse(iso) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return 'now';
  const min = Math.ceil(ms / 60000);
  if (min < 60) return `in ${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `in ${h} h ${min % 60} min`;
  return `in ${Math.floor(h / 24)} days`;
}

/**
 * A non-2xx answer: status and message up front; for a budget refusal the layer, window and reset
 * time spelled out (the raw body stays below for anyone debugging).
 */
export function showHttpError(status, statusText, body, headers) {
  const card = el('div', 'error-card');
  card.setAttribute('role', 'group');
  card.setAttribute('aria-label', `Error ${status}`);
  const err = body && typeof body === 'object' ? body.error : null;
  card.append(el('p', 'error-title', `${status} ${statusText || ''}`.trim()));
  card.append(el('p', 'error-message', err?.message ?? (typeof body === 'string' && body ? body : 'The server answered without a message.')));
  if (status === 402 && body?.code === 'budget-cap-hit') {
    const dl = el('dl', 'cap-details');
    const row = (term, value, extra) => {
      dl.append(el('dt', '', term));
      const dd = el('dd');
      dd.append(el('code', '', value));
      if (extra) dd.append(el('span', 'muted', ` ${extra}`));
      dl.append(dd);
    };
    row('capLayer', String(body.capLayer), 'layer that refused');
    row('capWindow', String(body.capWindow), 'its window');
    const local = new Date(body.resetsAt);
    row('resetsAt', String(body.resetsAt), Number.isNaN(local.getTime()) ? '' : `${local.toLocaleString()} (${untilText(body.resetsAt)})`);
    const retry = headers?.get('retry-after');
    if (retry) row('Retry-After', `${retry} s`, 'seconds until the window resets');
    card.append(dl);
  } else if (err) {
    const meta = [err.type && `type ${err.type}`, err.code && `code ${err.code}`, err.param && `param ${err.param}`].filter(Boolean).join(' · ');
    if (meta) card.append(el('p', 'error-meta', meta));
  }
  pane().append(card);
  if (body && typeof body === 'object') showJson(body, 'Response body');
}

/** The async job's status changes, as a list that grows: queued → in_progress → completed. */
export function timeline() {
  const block = el('div', 'pane-block');
  block.append(el('div', 'pane-label', 'Job status'));
  const list = el('ol', 'timeline');
  list.id = 'job-timeline';
  block.append(list);
  pane().append(block);
  const started = performance.now();
  return {
    add(status) {
      const item = el('li', `timeline-item status-${status}`);
      item.dataset.status = status;
      item.append(el('span', 'timeline-status', status));
      item.append(el('span', 'timeline-time', `${((performance.now() - started) / 1000).toFixed(1)} s`));
      list.append(item);
    },
  };
}
