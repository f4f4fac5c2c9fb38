/**
 * One way to send the same chat request: straight to the node (D), through Portkey (P), through Genie
 * (G), or through the floor of Genie's design (design-floor.ts; latency rounds and CPU only).
 */
export interface Target {
  name: 'direct' | 'portkey' | 'genie' | 'designFloor';
  url: string;
  headers: Record<string, string>;
  /** Processes that make up this target (for memory figures). */
  pids: Record<string, number | null>;
}

export type ChatBody = { model: string; messages: Array<{ role: string; content: string }>; max_tokens: number; stream?: boolean; mode?: string };

export async function post(t: Target, body: ChatBody): Promise<Response> {
  return fetch(t.url, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body: JSON.stringify(body) });
}
