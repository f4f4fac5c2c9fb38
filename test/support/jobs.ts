import { testStack } from './stack.js';

export interface Job {
  id: string;
  object: string;
  status: string;
  created: number;
  model: string;
  metadata?: Record<string, string>;
  result?: { id: string; choices: Array<{ message: { content: string } }>; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
  error?: { message: string; status: number };
  webhook?: { status: string; attempts: number; last_status_code: number | null; last_error: string | null; delivered_at: string | null };
}

export async function api(path: string, init: { method?: string; body?: unknown; key?: string; headers?: Record<string, string>; base?: string } = {}) {
  const res = await fetch(`${init.base ?? testStack().apiUrl}${path}`, {
    method: init.method ?? (init.body ? 'POST' : 'GET'),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${init.key ?? testStack().apiKey}`, ...init.headers },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

/** Polls GET /v1/jobs/:id until `done(job)` holds. */
export async function pollJob(pollUrl: string, done: (j: Job) => boolean = (j) => ['completed', 'failed', 'cancelled'].includes(j.status), opts: { key?: string; base?: string; timeoutMs?: number } = {}): Promise<Job> {
  const end = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const { status, json } = await api(pollUrl, opts);
    if (status !== 200) throw new Error(`GET ${pollUrl} answered ${status}: ${JSON.stringify(json)}`);
    if (done(json)) return json as Job;
    if (Date.now() > end) throw new Error(`job not done in time: ${JSON.stringify(json)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
