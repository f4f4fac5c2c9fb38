import { createParser } from 'eventsource-parser';

/**
 * Yields the `data` of each SSE event from a byte stream. Events split across TCP chunks, CRLF line
 * ends and multi-line data are the parser's job (eventsource-parser); a stream ending without the
 * final blank line still yields its last event. Leaving the loop early destroys the source, which
 * aborts the upstream request (as openai-node's core/streaming.ts does).
 */
export async function* sseData(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const pending: string[] = [];
  const parser = createParser({ onEvent: (e) => pending.push(e.data) });
  const decoder = new TextDecoder();
  const iterator = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) break;
      parser.feed(typeof value === 'string' ? value : decoder.decode(value, { stream: true }));
      while (pending.length) yield pending.shift()!;
    }
    parser.feed(decoder.decode() + '\n\n');
    while (pending.length) yield pending.shift()!;
  } finally {
    await iterator.return?.();
  }
}
