import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { openApiDocument } from '../../api/openapi/document.js';
import { putCapSchema } from '../../protocol/admin.js';
import { chatCompletionRequestSchema } from '../../protocol/chat-request.js';
import { testStack } from '../support/stack.js';
import pino from 'pino';
import { createApp, type ApiDeps } from '../../api/app.js';
import { createMetrics } from '../../activities/metrics.js';

type Doc = ReturnType<typeof openApiDocument>;

/** A status, with the body read: an unread body keeps its socket (and the Jest worker) alive. */
async function statusOf(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

async function served(): Promise<Doc> {
  const res = await fetch(`${testStack().apiUrl}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Doc;
}

/** Every `$ref` in the document, as JSON Pointers into it. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => refs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) (k === '$ref' && typeof v === 'string' ? out.push(v) : refs(v, out));
  }
  return out;
}

const resolve = (doc: unknown, pointer: string) =>
  pointer
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((n, key) => (n as Record<string, unknown> | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document, generated from the zod schemas', async () => {
    const doc = await served();
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // The validator is not vacuous: a response that is not a Response object fails it.
    const broken = structuredClone(doc) as Doc & { paths: Record<string, { get: { responses: unknown } }> };
    broken.paths['/v1/models'].get.responses = { '200': 5 };
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  it('resolves every $ref and documents every route the API serves', async () => {
    const doc = await served();
    const dangling = refs(doc).filter((r) => resolve(doc, r) === undefined);
    expect(dangling).toEqual([]);
    const ops = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${p}`));
    expect(ops).toEqual(
      expect.arrayContaining([
        'POST /v1/chat/completions',
        'GET /v1/models',
        'GET /v1/jobs/{jobId}',
        'POST /v1/jobs/{jobId}/cancel',
        'GET /v1/me',
        'GET /healthz',
        'POST /admin/v1/orgs',
        'PUT /admin/v1/caps',
        'GET /admin/v1/usage',
        'POST /admin/v1/nodes',
        'GET /admin/v1/keys',
        'POST /admin/v1/keys/{keyId}/revoke',
        'POST /admin/v1/keys/{keyId}/rotate',
      ]),
    );
    const chat = (doc.paths['/v1/chat/completions'] as { post: { responses: Record<string, { content?: Record<string, unknown>; $ref?: string }> } }).post;
    expect(Object.keys(chat.responses).sort()).toEqual(['200', '202', '400', '401', '402', '404', '409', '413', '429', '500', '503']);
    expect(Object.keys(chat.responses['200'].content!)).toEqual(['application/json', 'text/event-stream']);
    expect(resolve(doc, chat.responses['402'].$ref!)).toMatchObject({ content: { 'application/json': { schema: { $ref: '#/components/schemas/BudgetCapHit' } } } });
    expect(doc.components.securitySchemes).toMatchObject({ apiKey: { type: 'http', scheme: 'bearer' }, adminToken: { type: 'http', scheme: 'bearer' } });
  });

  it('documents exactly the routes the express app mounts (walked from its router), and no others', async () => {
    // The app is built without listening; no route runs, so its dependencies are never called.
    const app = createApp({ metrics: createMetrics({ defaults: false }), log: pino({ level: 'silent' }) } as unknown as ApiDeps);
    type Layer = { route?: { path: string; methods: Record<string, boolean> }; rawPath?: string; handle: { stack?: Layer[] } };
    const walk = (stack: Layer[], prefix: string): string[] =>
      stack.flatMap((l) => {
        const join = (a: string, b: string) => `${a}/${b}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
        if (l.route) return Object.keys(l.route.methods).map((m) => `${m.toUpperCase()} ${join(prefix, l.route!.path)}`.replace(/:(\w+)/g, '{$1}'));
        return l.handle.stack ? walk(l.handle.stack, join(prefix, l.rawPath ?? '')) : [];
      });
    const mounted = new Set(walk((app as unknown as { router: { stack: Layer[] } }).router.stack, ''));
    expect([...mounted]).toEqual(expect.arrayContaining(['POST /v1/chat/completions', 'POST /api/v1/chat/completions', 'PATCH /admin/v1/nodes/{id}']));
    // Served but deliberately outside the API document: pages, their assets, the exposition, the alias.
    const outside = (op: string) => / (\/|\/docs|\/docs\/.*|\/openapi\.json|\/metrics)$/.test(op) || op.includes(' /api/v1/');
    const doc = await served();
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${p}`)));
    expect([...mounted].filter((op) => !outside(op) && !documented.has(op)).sort()).toEqual([]);
    expect([...documented].filter((op) => !mounted.has(op)).sort()).toEqual([]);
  });

  it("documents the request exactly as the zod schema validates it (superRefine's cross-field rules aside)", () => {
    const { components } = openApiDocument();
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    for (const [id, schema] of Object.entries(components.schemas)) ajv.addSchema(schema as object, `#/components/schemas/${id}`);
    const docSays = (id: string, value: unknown) => ajv.validate(`#/components/schemas/${id}`, value);

    const ok = { model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }] };
    const samples: unknown[] = [
      ok,
      { ...ok, unknown_key: 1 }, // ignored, as vLLM does
      { ...ok, temperature: 2, top_p: 1, max_tokens: 16, n: 1, stop: ['a', 'b'], seed: -3 },
      { ...ok, messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }, { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' }}] }, { role: 'tool', tool_call_id: 'c', content: 'r' }] },
      { ...ok, response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' }, strict: true } } },
      { ...ok, mode: 'async', metadata: { k: 'v' }, webhook: { url: 'http://127.0.0.1:1/hook', secret: 'whsec_abcdefgh' } },
      {},
      { ...ok, model: '' },
      { ...ok, messages: [] },
      { ...ok, messages: [{ role: 'robot', content: 'x' }] },
      { ...ok, messages: [{ role: 'tool', content: 'x' }] },
      { ...ok, temperature: 2.5 },
      { ...ok, top_p: 0 },
      { ...ok, max_tokens: 0 },
      { ...ok, max_tokens: 1.5 },
      { ...ok, n: 2 },
      { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] },
      { ...ok, mode: 'batch' },
      { ...ok, tools: [{ type: 'function', function: { name: 'has space' } }] },
      { ...ok, metadata: { k: 'x'.repeat(513) } },
      { ...ok, model: 'a\u0000b' }, // Postgres text cannot hold U+0000
      { ...ok, mode: 'async', webhook: { url: 'http://127.0.0.1:1/hook', secret: 'short' } },
    ];
    for (const sample of samples) {
      expect([JSON.stringify(sample), docSays('ChatCompletionRequest', sample)]).toEqual([JSON.stringify(sample), chatCompletionRequestSchema.safeParse(sample).success]);
    }
    // Cross-field rules live in superRefine, which JSON Schema cannot express: the description names them.
    const conflict = { ...ok, stream: true, mode: 'async' };
    expect([docSays('ChatCompletionRequest', conflict), chatCompletionRequestSchema.safeParse(conflict).success]).toEqual([true, false]);
    expect((components.schemas.ChatCompletionRequest as { description: string }).description).toMatch(/stream: true.*conflicts/);

    for (const cap of [{ layer: 'org', subjectId: 'o', window: 'day', limitMicroUsd: 5 }, { layer: 'team', subjectId: 'o', window: 'day', limitMicroUsd: 5 }, { layer: 'org', subjectId: 'o', window: 'day', limitMicroUsd: -1 }]) {
      expect(docSays('PutCap', cap)).toBe(putCapSchema.safeParse(cap).success);
    }
  });
});

describe('GET /docs', () => {
  it('serves an API reference page rendering /openapi.json from local assets only', async () => {
    const { apiUrl } = testStack();
    const res = await fetch(`${apiUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toContain('/openapi.json');
    // No CDN: every script and stylesheet is served by this process, and the policy forbids other origins.
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(assets.filter((a) => !a.startsWith('/'))).toEqual([]);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    for (const asset of assets) expect([asset, await statusOf(`${apiUrl}${asset}`)]).toEqual([asset, 200]);
    const init = await (await fetch(`${apiUrl}/docs/init.js`)).text();
    expect(init).toMatch(/SwaggerUIBundle\(/);
    expect(init).toMatch(/validatorUrl: null/);
    // The package's own initializer points at a public petstore document: never served.
    expect(await statusOf(`${apiUrl}/docs/assets/swagger-initializer.js`)).toBe(404);
  });
});
