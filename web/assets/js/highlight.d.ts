// Types for the browser module highlight.js, which the server imports too (api/docs/html.ts).
export function escapeHtml(s: string): string;
export function highlightJson(value: unknown, indent?: number): string;
