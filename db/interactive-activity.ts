import type { MikroORM } from '@mikro-orm/postgresql';

// Interactive traffic, seen across processes: a fleet's API processes mark when they last took a sync
// or stream completion, its batch lines read the mark to step back (README, Batch API: "Interactive first").

/** How recent the fleet's last interactive completion must be for its batch lines to yield to it. */
export const INTERACTIVE_RECENT_MS = 2000;

/**
 * An API process's side: `touch()` on every sync or stream completion writes the mark at most once per
 * `everyMs`, off the request's path, so interactive callers pay one small write a second per process at
 * most — the batch side, which benefits, pays the reads.
 */
export class InteractiveMark {
  private lastWrite = -Infinity;

  constructor(
    private readonly orm: MikroORM,
    private readonly fleet: string,
    private readonly onError: (err: Error) => void,
    private readonly everyMs = INTERACTIVE_RECENT_MS / 2,
  ) {}

  touch(): void {
    const now = performance.now();
    if (now - this.lastWrite < this.everyMs) return;
    this.lastWrite = now;
    this.orm.em
      .getConnection()
      .execute('insert into interactive_activity (fleet, last_at) values (?, now()) on conflict (fleet) do update set last_at = excluded.last_at', [this.fleet])
      .catch(this.onError);
  }
}

/** Whether an API process of `fleet` took a sync or stream completion within the last `withinMs`. */
export async function interactiveRecently(orm: MikroORM, fleet: string, withinMs = INTERACTIVE_RECENT_MS): Promise<boolean> {
  const rows = await orm.em
    .getConnection()
    .execute<Array<{ recent: boolean }>>('select exists (select 1 from interactive_activity where fleet = ? and last_at > now() - make_interval(secs => ?)) as recent', [fleet, withinMs / 1000]);
  return rows[0]?.recent ?? false;
}
