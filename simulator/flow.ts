import { once } from 'node:events';
import type { Response } from 'express';

// How a streamed answer leaves the simulator, shared by both protocols.

/**
 * After a write the socket did not take whole: wait until it drains, as a real engine's server does
 * (uvicorn's flow control pauses vLLM's sender), so a client that stops reading stops the sending and
 * the tokens-sent counter shows how far the answer really got.
 */
export async function flowing(res: Response, written: boolean, signal: AbortSignal): Promise<void> {
  if (!written) await once(res, 'drain', { signal });
}

/** A stalled answer (`--stall-after`): nothing more is sent, the connection held until the client leaves. */
export function stall(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}
