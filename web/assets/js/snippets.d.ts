// Types for the browser module snippets.js, which the server imports too (api/docs/page.ts).

export interface TryItForm {
  model: string;
  messages: Array<{ role: string; content: string }>;
  mode: 'sync' | 'stream' | 'async';
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
}

export function requestBody(form: TryItForm): Record<string, unknown>;
export function modeOf(body: Record<string, unknown>): 'sync' | 'stream' | 'async';
export function curlSnippet(origin: string, body: Record<string, unknown>): string;
export function nodeSnippet(origin: string, body: Record<string, unknown>): string;
export function pythonSnippet(origin: string, body: Record<string, unknown>): string;
