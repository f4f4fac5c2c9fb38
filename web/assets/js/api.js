// The widget's only way out: same-origin calls to /api/v1 (the alias of /v1 the docs page uses).
// The key lives in sessionStorage — per tab, gone when the tab closes, never a cookie, never
// localStorage — and is attached only here, to URLs built from this page's own origin.

const STORAGE_KEY = 'genie.apiKey';

export function storedKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: the reader simply stays anonymous
  }
}

export function storeKey(key) {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}

/** fetch to `/api/v1<path>` on this origin with the stored key; cookies and referrer left out. */
export function apiFetch(path, { key = storedKey(), method = 'GET', body, signal } = {}) {
  const url = new URL(`/api/v1${path}`, window.location.origin);
  const headers = { accept: 'application/json, text/event-stream' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: 'omit',
    cache: 'no-store',
    referrerPolicy: 'no-referrer',
  });
}

/** The body of a response as JSON when it is JSON, else its text (a proxy's HTML error page). */
export async function readBody(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Checks a pasted key by listing models (which needs a key, as on OpenAI): returns the model list,
 * or throws with the server's own message for a refused key.
 */
export async function verifyKey(key) {
  const res = await apiFetch('/models', { key });
  const body = await readBody(res);
  if (!res.ok) {
    const message = body && typeof body === 'object' && body.error ? body.error.message : `HTTP ${res.status}`;
    throw new Error(`${res.status} ${message}`);
  }
  return body.data;
}
