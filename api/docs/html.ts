import { escapeHtml, highlightJson } from '../../web/assets/js/highlight.js';

// Small HTML helpers for the server-rendered docs page. Everything interpolated into the page goes
// through `esc`: example bodies carry user-looking text, and the origin comes from the Host header.

export const esc = escapeHtml;
export { highlightJson };

/** Doc prose with `code` spans: escaped first, so a backtick pair is the only markup it can carry. */
export function inline(text: string): string {
  return esc(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** A code block with a caption for screen readers and a copy button the page script wires up. */
export function codeBlock(html: string, opts: { label: string; lang?: string }): string {
  return `<div class="code-block"><div class="code-head"><span>${esc(opts.label)}</span><button type="button" class="copy" aria-label="Copy ${esc(opts.label)}">Copy</button></div><pre tabindex="0" aria-label="${esc(opts.label)}"><code${opts.lang ? ` class="lang-${esc(opts.lang)}"` : ''}>${html}</code></pre></div>`;
}

export function jsonBlock(value: unknown, label: string): string {
  return codeBlock(highlightJson(value), { label, lang: 'json' });
}

/** Server-Sent Events as they arrive on the wire: one `data:` line per chunk, then `[DONE]`. */
export function sseBlock(chunks: unknown[], label: string): string {
  const lines = chunks.map((c) => `<span class="sse-field">data:</span> ${highlightJson(c, 0)}`);
  lines.push('<span class="sse-field">data:</span> [DONE]');
  return codeBlock(lines.join('\n\n'), { label, lang: 'sse' });
}
