import type { CapWindow } from '../protocol/budget.js';

/** Start of the calendar-aligned UTC window containing `at`. */
export function windowStart(window: CapWindow, at: Date): Date {
  const d = new Date(at.getTime());
  switch (window) {
    case 'minute':
      d.setUTCSeconds(0, 0);
      return d;
    case 'hour':
      d.setUTCMinutes(0, 0, 0);
      return d;
    case 'day':
      d.setUTCHours(0, 0, 0, 0);
      return d;
    case 'month':
      return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));
  }
}

/** When the window containing `at` ends: the next window's start (the 402's `resetsAt`). */
export function windowEnd(window: CapWindow, at: Date): Date {
  const start = windowStart(window, at);
  switch (window) {
    case 'minute':
      return new Date(start.getTime() + 60_000);
    case 'hour':
      return new Date(start.getTime() + 3_600_000);
    case 'day':
      return new Date(start.getTime() + 86_400_000);
    case 'month':
      return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
  }
}
