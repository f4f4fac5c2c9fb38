import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import type { Logger } from 'pino';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The Temporal runtime's logger, writing through pino: workflow code (`log` from @temporalio/workflow,
 * replay-safe), activities (`log` from @temporalio/activity) and the SDK itself all land in the same
 * JSON stream as the API's lines. The workflow id *is* the completion id, so every line about a
 * completion carries `completionId` — one grep finds a request across API, workflow and activities.
 */
export class PinoTemporalLogger implements TemporalLogger {
  constructor(private readonly pino: Logger) {}

  log(level: LogLevel, message: string, meta: LogMetadata = {}): void {
    const method = LEVELS[level] ?? 'info';
    if (!this.pino.isLevelEnabled(method)) return;
    const { workflowId, sdkComponent, error, ...rest } = meta as { workflowId?: unknown; sdkComponent?: unknown; error?: unknown };
    const fields: Record<string, unknown> = { ...rest, temporal: sdkComponent };
    // The SDK logs failures under `error`; pino serializes (and sanitizes) errors under `err`.
    if (error !== undefined) fields.err = error;
    if (typeof workflowId === 'string') {
      fields.workflowId = workflowId;
      if (workflowId.startsWith('chatcmpl-')) fields.completionId = workflowId;
    }
    this.pino[method](fields, message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
