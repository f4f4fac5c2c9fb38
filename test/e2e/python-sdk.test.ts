import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../../workers/stack/processes.js';
import { generateTokens } from '../../simulator/text.js';
import { testStack } from '../support/stack.js';

// The Python `openai` package (installed into the project venv by `make test`) as a second judge.

describe('the official Python openai package', () => {
  it('runs sync, stream and a tools round trip against Genie', () => {
    const r = spawnSync(path.join(ROOT, '.venv/bin/python'), [path.join(ROOT, 'test/python/openai_client.py')], {
      env: { ...process.env, GENIE_BASE_URL: `${testStack().apiUrl}/v1`, GENIE_API_KEY: testStack().apiKey },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    const expected = generateTokens(5, [{ role: 'user', content: 'Hello from Python' }]).tokens.join('');
    expect(out).toMatchObject({ sync: expected, stream: expected, stream_finish: 'stop', tool_finish: 'tool_calls', tool_name: 'lookup', final_finish: 'stop' });
    expect(typeof out.tool_args.q).toBe('string');
    expect(out.final.length).toBeGreaterThan(0);
  });
});
