import { Writable } from 'node:stream';
import pino from 'pino';
import { REDACT_PATHS, serializeError } from '../../workers/logger.js';
import { PinoTemporalLogger } from '../../workers/telemetry/temporal-logger.js';

// What reaches a log line: credentials censored by path, SQL (with its inlined parameters) cut from
// database errors, and Temporal's lines carrying the completion id.

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const log = pino({ level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: { err: serializeError } }, stream);
  return { log, lines };
}

describe('logs', () => {
  it('censor the Authorization header of an access line and secrets by name', () => {
    const { log, lines } = capture();
    log.info({ req: { method: 'POST', headers: { authorization: 'Bearer sk-genie-SECRETSECRETSECRET', 'content-type': 'application/json' } } }, 'request completed');
    log.info({ webhook: { url: 'http://x', secret: 'whsec-SECRET' }, apiKey: 'sk-genie-OTHER' }, 'job');
    const text = lines.join('');
    expect(text).not.toMatch(/SECRET|OTHER/);
    expect(text).toContain('"authorization":"[redacted]"');
    expect(text).toContain('"content-type":"application/json"');
  });

  it('cut the SQL, and the parameters inlined in it, from a database error', () => {
    const { log, lines } = capture();
    const e = Object.assign(new Error("insert into webhook_secrets (workflow_id, secret) values ('chatcmpl-1', 'whsec-TOPSECRET') on conflict (workflow_id) do nothing - terminating connection"), { code: '57P01' });
    log.error({ err: e }, 'request failed');
    expect(lines.join('')).not.toContain('TOPSECRET');
    expect(JSON.parse(lines[0]).err).toEqual({ type: 'Error', code: '57P01', message: '[sql redacted] - terminating connection' });
    // Other errors keep their message and stack.
    expect(serializeError(new Error('plain'))).toMatchObject({ message: 'plain', stack: expect.stringContaining('Error: plain') });
  });

  it('Temporal lines name the completion and carry the SDK’s error as a serialized `err`', () => {
    const { log, lines } = capture();
    new PinoTemporalLogger(log).warn('Activity failed', { workflowId: 'chatcmpl-abc', sdkComponent: 'worker', error: new Error('node refused') });
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({ completionId: 'chatcmpl-abc', temporal: 'worker', msg: 'Activity failed', err: { message: 'node refused' } });
  });
});
