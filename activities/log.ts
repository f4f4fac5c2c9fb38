import { Context } from '@temporalio/activity';
import type { Logger } from '@temporalio/common';

const silent: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/**
 * The running activity's logger: Temporal adds the workflow id (= the completion id), activity type and
 * attempt to every line, and the runtime writes it through pino. Silent when called outside an
 * activity (unit tests calling an activity function directly).
 */
export function activityLog(): Logger {
  try {
    return Context.current().log;
  } catch {
    return silent;
  }
}
