import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../workers/stack/processes.js';
import { generateTokens } from '../../simulator/text.js';
import { testStack } from '../support/stack.js';

// The Python `openai` package (installed into the project venv by `make test`) as a second judge.

/** Runs one of test/python's scripts against the stack; its last stdout line is its JSON verdict. */
function runPython(script: string, timeout = 60_000) {
  const r = spawnSync(path.join(ROOT, '.venv/bin/python'), [path.join(ROOT, 'test/python', script)], {
    env: { ...process.env, GENIE_BASE_URL: `${testStack().apiUrl}/v1`, GENIE_API_KEY: testStack().apiKey },
    encoding: 'utf8',
    timeout,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

describe('the official Python openai package', () => {
  it('runs sync, stream and a tools round trip against Genie', () => {
    const out = runPython('openai_client.py');
    const expected = generateTokens(5, [{ role: 'user', content: 'Hello from Python' }]).tokens.join('');
    expect(out).toMatchObject({ sync: expected, stream: expected, stream_finish: 'stop', tool_finish: 'tool_calls', tool_name: 'lookup', final_finish: 'stop' });
    expect(typeof out.tool_args.q).toBe('string');
    expect(out.final.length).toBeGreaterThan(0);
  });

  it('runs a small batch: upload, create, poll to completed, download the output and error files', () => {
    const out = runPython('batch_client.py', 90_000);
    const ids = [0, 1, 2, 3, 4].map((i) => `py-${i}`);
    expect(out).toMatchObject({ status: 'completed', counts: { total: 6, completed: 5, failed: 1 }, metadata: { sdk: 'python' }, output_ids: ids, error_ids: ['py-broken'], error_status: [500], listed: true, file: 'batch' });
    expect(out.output_status).toEqual([200, 200, 200, 200, 200]);
    expect(out.output_contents).toEqual([0, 1, 2, 3, 4].map((i) => generateTokens(i, [{ role: 'user', content: `python line ${i}` }]).tokens.slice(0, 8).join('')));
  }, 120_000);
});
