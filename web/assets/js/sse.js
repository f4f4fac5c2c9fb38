// Server-Sent Events from a fetch body, event by event as bytes arrive (EventSource cannot POST or
// send an Authorization header). Network reads split events anywhere — mid-line, mid-UTF-8
// character — so bytes are decoded in stream mode and lines are buffered until a blank line ends
// an event, as the SSE spec and openai-node's parser do.

/**
 * Yields `{ event, data }` for every complete event in `body`. Comment lines (`: keep-alive`) are
 * skipped. Stops when the body ends; a cancelled reader (Stop button) ends it too.
 */
export async function* sseEvents(body, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let data = [];
  let event = 'message';
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end, a newline completes a last line that arrived without one.
      buffer += done ? `${decoder.decode()}\n` : decoder.decode(value, { stream: true });
      // Every complete line in the buffer; a trailing partial line waits for the next read.
      let nl;
      while ((nl = buffer.search(/\r\n|\r|\n/)) !== -1) {
        // A lone trailing \r may be the first half of \r\n split across two reads.
        if (!done && buffer[nl] === '\r' && nl === buffer.length - 1) break;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer[nl] === '\r' && buffer[nl + 1] === '\n' ? 2 : 1));
        if (line === '') {
          if (data.length) yield { event, data: data.join('\n') };
          data = [];
          event = 'message';
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const raw = colon === -1 ? '' : line.slice(colon + 1);
          const val = raw.startsWith(' ') ? raw.slice(1) : raw;
          if (field === 'data') data.push(val);
          else if (field === 'event') event = val;
        }
      }
      if (done) {
        // A final event without its blank line still counts (the spec drops it; being lenient
        // here means a truncated stream still shows everything that arrived).
        if (data.length) yield { event, data: data.join('\n') };
        return;
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    try {
      reader.releaseLock();
    } catch {
      // already released or still reading after a cancel: nothing to free
    }
  }
}
