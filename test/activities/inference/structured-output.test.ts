import { execFile } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { structuredOutputError } from '../../../activities/inference/structured-output.js';
import type { NodeRequest } from '../../../protocol/chat-request.js';

// A strict schema's `pattern` comes from the caller and the output it is matched against can be steered
// by the caller's prompt. Under a backtracking engine `^(a+)+$` against 'a'×40 + '!' takes ~2^40 steps:
// the process holding the caller would spin for hours with its event loop blocked.

const strictWith = (schema: Record<string, unknown>): NodeRequest => ({
  model: 'm',
  messages: [{ role: 'user', content: 'x' }],
  response_format: { type: 'json_schema', json_schema: { name: 'evil', strict: true, schema } },
});
const evil = { type: 'object', properties: { s: { type: 'string', pattern: '^(a+)+$' } }, required: ['s'] };
const output = JSON.stringify({ s: `${'a'.repeat(40)}!` });

describe('a strict schema’s patterns against the model’s output', () => {
  it('a catastrophic-backtracking pattern is answered, not spun on: the check runs in a child that must exit', async () => {
    // In a child process: a blocked event loop here would hang the Jest worker itself (its timeout
    // cannot fire), so the child's own kill timer is what turns a regression into a red test.
    const module = pathToFileURL(path.resolve(import.meta.dirname, '../../../activities/inference/structured-output.ts')).href;
    const script = `
      import { structuredOutputError } from ${JSON.stringify(module)};
      const request = ${JSON.stringify(strictWith(evil))};
      process.stdout.write(JSON.stringify(structuredOutputError(request, ${JSON.stringify(output)})));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 45_000, killSignal: 'SIGKILL' });
    expect(JSON.parse(stdout)).toMatch(/does not match json_schema 'evil': \/s must match pattern/);
  });

  it('patterns still decide: a matching output passes, a non-matching one is named', () => {
    expect(structuredOutputError(strictWith(evil), JSON.stringify({ s: 'aaaa' }))).toBeNull();
    expect(structuredOutputError(strictWith(evil), JSON.stringify({ s: 'aab' }))).toMatch(/\/s must match pattern "\^\(a\+\)\+\$"/);
    const props = { type: 'object', patternProperties: { '^x_\\d+$': { type: 'integer' } }, additionalProperties: false };
    expect(structuredOutputError(strictWith(props), JSON.stringify({ x_1: 1, x_22: 2 }))).toBeNull();
    expect(structuredOutputError(strictWith(props), JSON.stringify({ y: 1 }))).toMatch(/must NOT have additional properties/);
    // JS-only escapes (\\u, \\/) mean what they mean in a JSON Schema pattern.
    expect(structuredOutputError(strictWith({ type: 'string', pattern: '^caf\\u00e9\\/\\d+$' }), JSON.stringify('café/12'))).toBeNull();
  });
});
