import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { ROOT } from '../../workers/stack/processes.js';

// The SDK evaluates the bundle's modules afresh for every workflow it starts (a sync completion is one
// workflow): whatever the workflows import is CPU on every completion. A value import of a zod-built
// module (protocol/errors.ts, say) once put all of zod in the sandbox and cost the API ~4 ms per sync
// completion. The workflows import Temporal, their own files and a few pure protocol modules: nothing else.
const ALLOWED = [/^\.\/workflows\//, /^\.\/protocol\/(failures|capabilities|max-tokens|webhook-attempt|batch-ids)\.ts$/, /^\.\/node_modules\/(@temporalio|nexus-rpc|ms|long)\//, /^\?/, /^webpack\//];

it('bundles the workflows with Temporal and a few pure modules only (no zod, no database or HTTP libraries)', async () => {
  const { code } = await bundleWorkflowCode({ workflowsPath: path.join(ROOT, 'workflows/index.ts'), logger: new DefaultLogger('WARN') });
  const modules = [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"/gm)].map((m) => m[1]);
  expect(modules.length).toBeGreaterThan(20);
  expect(modules.filter((m) => /zod/.test(m))).toEqual([]);
  expect(modules.filter((m) => !ALLOWED.some((re) => re.test(m)))).toEqual([]);
}, 60_000);
