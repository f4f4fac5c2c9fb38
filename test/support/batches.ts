import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { waitFor } from './wait-for.js';

/** One input line of OpenAI's batch shape. */
export const line = (customId: string, body: Record<string, unknown>) => ({ custom_id: customId, method: 'POST', url: '/v1/chat/completions', body });
export const jsonl = (lines: unknown[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

export const sdk = (baseUrl: string, apiKey: string) => new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey, maxRetries: 0, timeout: 60_000 });

/** Uploads the lines and creates a batch from them, with the official SDK. */
export async function submitBatch(client: OpenAI, lines: unknown[], extra: Record<string, unknown> = {}): Promise<Batch> {
  const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(lines)), 'input.jsonl'), purpose: 'batch' });
  return client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h', ...extra } as never);
}

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];
export async function pollBatch(client: OpenAI, id: string, done: (b: Batch) => boolean = (b) => TERMINAL.includes(b.status), timeoutMs = 120_000): Promise<Batch> {
  return waitFor(`batch ${id}`, async () => {
    const b = await client.batches.retrieve(id);
    return done(b) ? b : null;
  }, timeoutMs, 250);
}

export interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: any } | null;
  error: { code: string; message: string } | null;
}
export async function readLines(client: OpenAI, fileId: string | null | undefined): Promise<OutputLine[]> {
  if (!fileId) return [];
  const text = await (await client.files.content(fileId)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as OutputLine);
}
