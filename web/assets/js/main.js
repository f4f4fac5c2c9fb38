import { forgetKey, storedKey, storeKey, verifyKey } from './api.js';
import { initForm, readForm, setModelOptions } from './form.js';
import { run } from './run.js';
import { curlSnippet, modeOf, nodeSnippet, pythonSnippet, requestBody } from './snippets.js';

// Wires the docs page: copy buttons, the snippet tabs and the "Try it" widget. Anonymous by
// default — the form and the live request shape work, Run stays disabled until a key is given.

const $ = (id) => document.getElementById(id);
const config = JSON.parse($('genie-config').textContent);
let running = null; // AbortController of the run in flight

function signedIn() {
  return Boolean(storedKey());
}

/** The live curl / SDK snippets: exactly the body Run would send, with the key as a variable. */
function updatePreview() {
  const { form } = readForm(config);
  const body = requestBody(form);
  $('snippet-curl').textContent = curlSnippet(window.location.origin, body);
  $('snippet-js').textContent = nodeSnippet(window.location.origin, body);
  $('snippet-py').textContent = pythonSnippet(window.location.origin, body);
  $('mode-label').textContent = modeOf(body);
}

function renderAuth() {
  const on = signedIn();
  const key = storedKey();
  $('auth-state').textContent = on ? `Signed in · ${key.slice(0, 12)}…` : 'Anonymous';
  $('auth-state').classList.toggle('is-signed-in', on);
  $('sign-in-toggle').hidden = on;
  $('sign-out').hidden = !on;
  if (on) $('sign-in-form').hidden = true;
  $('sign-in-toggle').setAttribute('aria-expanded', String(!$('sign-in-form').hidden));
  $('run').disabled = !on || running !== null;
  $('run-hint').hidden = on;
  $('anon-note').textContent = on
    ? 'Signed in — Run sends the request below to this Genie server with your key.'
    : "Anonymous mode — sign in to enable the Run button. The widget below shows the request shape you'd send.";
  $('model-hint').textContent = on ? 'Models served by healthy nodes, then personas and their targets.' : 'Sign in to load the models this server serves.';
}

async function loadModels(key) {
  const models = await verifyKey(key);
  setModelOptions(models);
  updatePreview();
}

function initAuth() {
  $('sign-in-toggle').addEventListener('click', () => {
    const form = $('sign-in-form');
    form.hidden = !form.hidden;
    $('sign-in-toggle').setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) $('api-key').focus();
  });
  $('sign-in-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = $('api-key').value.trim();
    const error = $('sign-in-error');
    error.textContent = '';
    if (!key) {
      error.textContent = 'Paste an API key (sk-genie-…).';
      return;
    }
    $('sign-in-submit').disabled = true;
    try {
      await loadModels(key);
      storeKey(key);
      $('api-key').value = '';
      renderAuth();
      $('run').focus();
    } catch (err) {
      error.textContent = `That key was not accepted: ${err.message}`;
    } finally {
      $('sign-in-submit').disabled = false;
    }
  });
  $('sign-out').addEventListener('click', () => {
    forgetKey();
    renderAuth();
    $('sign-in-toggle').focus();
  });
  // A key from earlier in this tab: reload the live model list, or drop it if it was revoked.
  const key = storedKey();
  if (key) {
    loadModels(key).catch((err) => {
      if (/^401\b/.test(err.message)) {
        forgetKey();
        renderAuth();
      }
    });
  }
}

function initRun() {
  const form = $('try-form');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!signedIn() || running) return;
    const { form: values, errors } = readForm(config);
    $('form-error').textContent = errors.join(' ');
    if (errors.length) return;
    running = new AbortController();
    $('run').disabled = true;
    $('stop').hidden = false;
    try {
      await run(requestBody(values), running.signal);
    } finally {
      running = null;
      $('stop').hidden = true;
      renderAuth();
    }
  });
  $('stop').addEventListener('click', () => running?.abort());
  // Ctrl/Cmd+Enter runs from any field, as in most playgrounds.
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

/** ARIA tabs: click or arrow keys switch, only the selected tab is in the tab order. */
function initTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  const select = (tab) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener('click', () => select(tab));
    tab.addEventListener('keydown', (e) => {
      const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
}

/** Copy buttons on every code block; the text copied is the block's text, never the stored key. */
function initCopy() {
  document.addEventListener('click', async (e) => {
    const button = e.target.closest?.('button.copy');
    if (!button) return;
    const text = button.closest('.code-block')?.querySelector('pre')?.textContent ?? '';
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      button.textContent = 'Select and copy';
    }
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
}

initForm(config, updatePreview);
initTabs();
initCopy();
initAuth();
initRun();
renderAuth();
updatePreview();
