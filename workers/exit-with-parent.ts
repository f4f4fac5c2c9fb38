/**
 * A process started by the stack launcher gets its stdin as a lifeline (GENIE_EXIT_WITH_PARENT=1):
 * when the launcher dies, however it dies, stdin closes and `shutdown` runs, so nothing is orphaned.
 */
export function exitWithParent(shutdown: () => void): void {
  if (process.env.GENIE_EXIT_WITH_PARENT !== '1') return;
  process.stdin.on('end', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}
