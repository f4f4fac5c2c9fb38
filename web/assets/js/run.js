import { apiFetch, readBody, storedKey } from './api.js';
import * as pane from './pane.js';
import { modeOf } from './snippets.js';
import { sseEvents } from './sse.js';

// One run of the widget: POST the request, then render the answer the way its mode arrives —
// sync as its JSON body, stream chunk by chunk from the real SSE stream, async as the 202 body and
// the job's status changes while it is polled. Errors always end up in the pane: an empty pane
// after a run would be the one bug this widget exists to rule out.

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
// HTTP/2 carries no reason phrase, so statusText can be empty: fall back to the common ones.
const REASONS = { 400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 404: 'Not Found', 409: 'Conflict', 413: 'Payload Too Large', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
const reason = (res) => res.statusText || REASONS[res.status] || '';

const seconds = (since) => `${((performance.now() - since) / 1000).toFixed(2)} s`;

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new DOMException('Stopped', 'AbortError'));
      },
      { once: true },
    );
  });
}

/** "budget left $0.004210 (resets 00:00)" from the x-genie-budget-* headers, when a cap applies. */
function budgetText(headers) {
  const remaining = headers.get('x-genie-budget-remaining');
  if (remaining === null) return '';
  const usd = (Number(remaining) / 1e6).toLocaleString(undefined, { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 6 });
  const resets = headers.get('x-genie-budget-resets-at');
  const at = resets ? new Date(resets) : null;
  return ` · budget left ${usd}${at && !Number.isNaN(at.getTime()) ? ` (resets ${at.toLocaleString()})` : ''}`;
}

export async function run(body, signal) {
  pane.clearPane();
  const mode = modeOf(body);
  const started = performance.now();
  pane.setBusy(true);
  pane.setStatus(mode === 'stream' ? 'Connecting…' : 'Waiting for the answer…', 'pending');
  try {
    // One key for the whole run: signing out meanwhile must not turn the job's polls into 401s.
    const key = storedKey();
    const res = await apiFetch('/chat/completions', { key, method: 'POST', body, signal });
    if (!res.ok) {
      // Refusals come before any stream byte or job, as plain JSON errors, in every mode.
      pane.showHttpError(res.status, reason(res), await readBody(res), res.headers);
      pane.setStatus(`${res.status} ${reason(res)} · ${mode} · ${seconds(started)}`, 'error');
      return;
    }
    if (mode === 'stream') await renderStream(res, signal, started);
    else if (mode === 'async') await renderAsync(res, signal, started, key);
    else {
      pane.showJson(await readBody(res), `${res.status} ${reason(res)}`);
      pane.setStatus(`${res.status} ${reason(res)} · sync · ${seconds(started)}${budgetText(res.headers)}`, 'ok');
    }
  } catch (e) {
    if (e?.name === 'AbortError') {
      pane.showNote('Stopped before the answer was complete.');
      pane.setStatus(`Stopped · ${seconds(started)}`);
    } else {
      pane.showNote(`[error] network: ${e?.message ?? e}`, 'error');
      pane.setStatus('Network error', 'error');
    }
  } finally {
    pane.setBusy(false);
  }
}

async function renderStream(res, signal, started) {
  const view = pane.streamView();
  pane.setStatus(`${res.status} ${reason(res)} · streaming…`, 'pending');
  let finish = null;
  let done = false;
  for await (const ev of sseEvents(res.body, signal)) {
    if (ev.data === '[DONE]') {
      done = true;
      break;
    }
    let chunk;
    try {
      chunk = JSON.parse(ev.data);
    } catch {
      view.marker(`[unparseable event] ${ev.data}`, 'error');
      continue;
    }
    if (chunk.error) {
      // OpenAI-style error event, in case a proxy in front of Genie emits one.
      view.marker(`[error] ${chunk.error.message ?? JSON.stringify(chunk.error)}`, 'error');
      continue;
    }
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta ?? {};
      // Genie's inline failure: the error text is the last content, with finish_reason "error".
      if (choice.finish_reason === 'error' && delta.content) view.marker(delta.content, 'error');
      else if (typeof delta.content === 'string') view.append(delta.content);
      for (const call of delta.tool_calls ?? []) {
        if (call.function?.name) view.marker(`[tool_call ${call.function.name}]`, 'info');
        if (call.function?.arguments) view.append(call.function.arguments);
      }
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        view.marker(`[finish_reason: ${finish}]`, finish === 'error' ? 'error' : 'ok');
      }
    }
    if (chunk.usage) {
      const u = chunk.usage;
      view.marker(`[usage: prompt ${u.prompt_tokens}, completion ${u.completion_tokens}, total ${u.total_tokens}]`, 'info');
    }
  }
  if (signal.aborted) throw new DOMException('Stopped', 'AbortError');
  if (!done) view.marker('[error] the stream ended without [DONE]', 'error');
  const tone = finish === 'error' || !done ? 'error' : 'ok';
  pane.setStatus(`${res.status} ${reason(res)} · stream · ${seconds(started)}${finish ? ` · finish_reason ${finish}` : ''}${budgetText(res.headers)}`, tone);
}

async function renderAsync(res, signal, started, key) {
  const accepted = await readBody(res);
  const budget = budgetText(res.headers);
  pane.showJson(accepted, `${res.status} ${reason(res)}`);
  const steps = pane.timeline();
  steps.add(accepted.status);
  let status = accepted.status;
  let job = null;
  // poll_url is /v1/jobs/<id>; the widget asks the same handler under its /api/v1 alias.
  const jobPath = accepted.poll_url.replace(/^\/v1/, '');
  pane.setStatus(`Job ${status} · polling…`, 'pending');
  let delay = 250;
  try {
    while (!TERMINAL.has(status)) {
      await sleep(delay, signal);
      delay = Math.min(Math.round(delay * 1.5), 2000);
      const r = await apiFetch(jobPath, { key, signal });
      const b = await readBody(r);
      if (!r.ok) {
        pane.showHttpError(r.status, reason(r), b, r.headers);
        pane.setStatus(`Polling failed: ${r.status} ${reason(r)}`, 'error');
        return;
      }
      job = b;
      if (job.status !== status) {
        status = job.status;
        steps.add(status);
        pane.setStatus(`Job ${status}${TERMINAL.has(status) ? '' : ' · polling…'}`, 'pending');
      }
    }
  } catch (e) {
    if (e?.name !== 'AbortError') throw e;
    // Stop during polling means "I no longer want this job": cancel it, and show what is left.
    const r = await apiFetch(`${jobPath}/cancel`, { key, method: 'POST' });
    const b = await readBody(r);
    if (!r.ok) {
      pane.showHttpError(r.status, reason(r), b, r.headers);
      pane.setStatus(`Cancel failed: ${r.status} ${reason(r)}`, 'error');
      return;
    }
    job = b;
    if (job?.status && job.status !== status) steps.add(job.status);
    status = job?.status ?? status;
  }
  if (job) pane.showJson(job, `GET ${accepted.poll_url}`);
  if (status === 'failed' && job?.error) pane.showNote(`[error] ${job.error.status} ${job.error.message}`, 'error');
  pane.setStatus(`Job ${status} · ${seconds(started)}${budget}`, status === 'completed' ? 'ok' : 'error');
}
