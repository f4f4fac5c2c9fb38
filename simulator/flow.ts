// How a streamed answer leaves the simulator, shared by both protocols.

/** A stalled answer (`--stall-after`): nothing more is sent, the connection held until the client leaves. */
export function stall(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
}
