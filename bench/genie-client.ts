// One Genie completion as a client sees it, for the scenarios that count CPU or fire on a timer.

export type GenieMode = 'sync' | 'stream' | 'async';
export interface GenieRefs { apiUrl: string; apiKey: string }

/**
 * Sends one completion and reads its answer to the end. `ms` is the time to the whole answer (sync,
 * stream) or to the 202 (async); `id` is the completion's id, which is its workflow id (null for a
 * stream, whose id is inside the events).
 */
export async function sendGenie(g: GenieRefs, mode: GenieMode, content: string, webhookUrl?: string): Promise<{ status: number; id: string | null; ms: number }> {
  const body = {
    model: 'qwen3:0.6b',
    max_tokens: 16,
    messages: [{ role: 'user', content }],
    ...(mode === 'stream' ? { stream: true } : {}),
    ...(mode === 'async' ? { mode: 'async', webhook: { url: webhookUrl, secret: 'bench-secret' } } : {}),
  };
  const t0 = performance.now();
  const res = await fetch(`${g.apiUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${g.apiKey}` },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  let id: string | null = null;
  if (mode !== 'stream') {
    try {
      id = (JSON.parse(text) as { id?: string }).id ?? null;
    } catch {
      /* an error page: the status says enough */
    }
  }
  return { status: res.status, id, ms };
}

/** Runs `n` calls of `one(i)` with at most `concurrency` in flight (closed loop). */
export async function closedLoop<T>(n: number, concurrency: number, one: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}
