// HTML escaping and JSON highlighting shared by the server-rendered page (api/docs/html.ts) and the
// widget's response pane, so a body looks the same in the docs and in a live answer. No DOM here.

export function escapeHtml(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// Runs on already-escaped text (strings as &quot;…&quot;, with \&quot; inside them), so whatever a
// body contains, the only markup that can come out is these spans.
const TOKEN = /(&quot;(?:\\.|[^&\\]|&(?!quot;))*?&quot;)(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;

/** Pretty JSON as HTML with key/string/number/literal classes the stylesheet colours. */
export function highlightJson(value, indent = 2) {
  return escapeHtml(JSON.stringify(value, null, indent)).replace(TOKEN, (m, str, colon, lit, num) => {
    if (str) return colon ? `<span class="j-key">${str}</span>${colon}` : `<span class="j-str">${str}</span>`;
    if (lit) return `<span class="j-lit">${lit}</span>`;
    if (num) return `<span class="j-num">${num}</span>`;
    return m;
  });
}
