import http from 'node:http';
import pino from 'pino';
import { fillSlots } from '../../api/docs/page.js';
import { parameterRows } from '../../api/docs/parameters.js';
import { validateChatRequest } from '../../protocol/validate-chat-request.js';
import { PERSONA_ALIASES } from '../../db/personas.js';
import { capLayers } from '../../protocol/budget.js';
import { chatCompletionRequestSchema, unsupportedParams } from '../../protocol/chat-request.js';
import { chatCompletionChunkSchema, chatCompletionSchema, modelListSchema } from '../../protocol/chat-response.js';
import { errorEnvelopeSchema, GenieError } from '../../protocol/errors.js';
import {
  exampleAsyncAccepted,
  exampleBudgetRefusal,
  exampleCompletedJob,
  exampleErrors,
  exampleModelList,
  exampleRequest,
  exampleStreamChunks,
  exampleStreamErrorChunks,
  exampleSyncResponse,
  tryItDefaults,
} from '../../protocol/examples.js';
import { asyncAcceptedSchema, jobViewSchema } from '../../protocol/job.js';
import { requestBody } from '../../web/assets/js/snippets.js';
import { api, pollJob } from '../support/jobs.js';
import { testStack } from '../support/stack.js';

// The docs page cannot drift from the API: its parameter table covers exactly the request schema's
// keys, its examples parse with the wire schemas, and the page served at `/` is what the browser
// test drives — complete, self-contained (no external resources) and locked down by its CSP.

const log = pino({ level: 'silent' });
const page = async () => {
  const base = testStack().apiUrl; // one API for the whole check: testStack() hands them out in turn
  const res = await fetch(`${base}/`);
  return { base, res, html: await res.text() };
};

describe('the docs page at /', () => {
  it('has a parameter-table row for every top-level key of the request schema, and no other', async () => {
    const { html } = await page();
    const rows = [...html.matchAll(/<tr id="param-([a-z_]+)">/g)].map((m) => m[1]);
    expect(rows.sort()).toEqual(Object.keys(chatCompletionRequestSchema.shape).sort());
    // Each row says something, and the refused OpenAI parameters are listed by name.
    for (const row of parameterRows()) expect(row.description.length).toBeGreaterThan(10);
    for (const p of unsupportedParams) expect(html).toContain(`<code>${p}</code>`);
    expect(parameterRows().filter((r) => r.required).map((r) => r.name)).toEqual(['model', 'messages']);
  });

  it('is served complete, self-contained and locked to its own origin', async () => {
    const { base, res, html } = await page();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(html).not.toMatch(/<!--genie:/); // every slot filled
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // no CDN, fonts or other origins
    expect(html).not.toMatch(/<script(?![^>]*\b(src="\/assets\/|type="application\/json"))/); // no inline script
    for (const id of ['endpoint', 'try-it', 'sdk', 'request-body', 'responses', 'webhooks', 'budgets', 'personas', 'errors']) {
      expect(html).toContain(`<section id="${id}"`);
    }
    expect(html).toContain('X-Genie-Signature: sha256={hex}');
    expect(html).toContain(`POST ${base}/v1/chat/completions`);
    // Budgets: the layers in the order admission checks them, and the 402 body.
    const chain = html.slice(html.indexOf('class="layer-chain"'));
    const positions = capLayers.map((l) => chain.indexOf(`<code>${l}</code>`));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    for (const field of ['capLayer', 'capWindow', 'resetsAt', 'Retry-After', 'x-genie-budget-remaining', 'x-genie-budget-resets-at']) expect(html).toContain(field);
    for (const alias of PERSONA_ALIASES) expect(html).toContain(`<code>${alias}</code>`);

    for (const asset of ['/assets/docs.css', '/assets/try-it.css', '/assets/js/main.js', '/assets/js/sse.js', '/assets/favicon.svg']) {
      const a = await fetch(`${base}${asset}`);
      expect([asset, a.status]).toEqual([asset, 200]);
    }
    expect((await fetch(`${base}/assets/nope.js`)).status).toBe(404);
  });

  it('echoes only a plain Host header into its examples', async () => {
    // fetch will not send a forged Host header; node:http will.
    const { port } = new URL(testStack().apiUrl);
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host: 'x"><script>alert(1)</script>' } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject).end();
    });
    expect([200, 400]).toContain(body.status);
    expect(body.text).not.toContain('<script>alert(1)');
    if (body.status === 200) expect(body.text).toContain('POST http://127.0.0.1:8080/v1/chat/completions'); // the fallback
  });

  it('shows the scheme a proxy on a private network says the caller used', async () => {
    const base = testStack().apiUrl;
    const res = await fetch(`${base}/`, { headers: { 'x-forwarded-proto': 'https' } });
    const { host } = new URL(base);
    expect(await res.text()).toContain(`POST https://${host}/v1/chat/completions`);
  });

  it('refuses a template slot without a generator, or a generator without a slot', () => {
    expect(fillSlots('<p><!--genie:a--></p>', { a: 'x' })).toBe('<p>x</p>');
    expect(() => fillSlots('<!--genie:missing-->', {})).toThrow(/no generator for slot "missing"/);
    expect(() => fillSlots('', { orphan: 'x' })).toThrow(/without a place.*orphan/);
  });
});

describe('the shared examples the page renders', () => {
  it('parse with the wire schemas the API answers with', () => {
    expect(() => chatCompletionSchema.parse(exampleSyncResponse)).not.toThrow();
    for (const c of [...exampleStreamChunks, ...exampleStreamErrorChunks]) expect(() => chatCompletionChunkSchema.parse(c)).not.toThrow();
    expect(() => asyncAcceptedSchema.parse(exampleAsyncAccepted)).not.toThrow();
    expect(() => jobViewSchema.parse(exampleCompletedJob)).not.toThrow();
    expect(() => modelListSchema.parse(exampleModelList)).not.toThrow();
    const last = exampleStreamErrorChunks[exampleStreamErrorChunks.length - 1].choices[0];
    expect([last.delta.content, last.finish_reason]).toEqual(['[error] 500 model failed to load: broken:latest', 'error']);
  });

  it('have the shape of live answers: the same keys and id conventions as a real sync body, 202 and job', async () => {
    const keys = (o: object) => Object.keys(o).sort();
    const sync = await api('/v1/chat/completions', { body: exampleRequest });
    expect(keys(sync.json)).toEqual(keys(exampleSyncResponse));
    const accepted = await api('/v1/chat/completions', { body: { ...exampleRequest, mode: 'async' } });
    expect(keys(accepted.json)).toEqual(keys(exampleAsyncAccepted));
    const job = await pollJob(accepted.json.poll_url);
    expect(keys(job)).toEqual(keys(exampleCompletedJob));
    // A job's id is the bare job id; its result's id (and the 202's) is the completion id.
    const jobId = (url: string) => url.split('/').pop();
    expect(job.id).toBe(jobId(accepted.json.poll_url));
    expect(exampleCompletedJob.id).toBe(jobId(exampleAsyncAccepted.poll_url));
    expect([accepted.json.id, job.result?.id]).toEqual([`chatcmpl-${job.id}`, `chatcmpl-${job.id}`]);
    expect([exampleAsyncAccepted.id, exampleCompletedJob.result.id]).toEqual([`chatcmpl-${exampleCompletedJob.id}`, `chatcmpl-${exampleCompletedJob.id}`]);
  });

  it('are requests the validator accepts, in every mode the widget can send', () => {
    expect(() => validateChatRequest(exampleRequest, log)).not.toThrow();
    for (const mode of ['sync', 'stream', 'async'] as const) {
      const body = requestBody({ ...tryItDefaults, messages: [...tryItDefaults.messages], mode });
      expect(() => validateChatRequest(body, log)).not.toThrow();
    }
  });

  it('document the errors the request path really produces', () => {
    for (const { error } of exampleErrors) expect(() => errorEnvelopeSchema.parse(error.toEnvelope())).not.toThrow();
    // The validation example is what the validator says for that mistake, word for word.
    let thrown: unknown;
    try {
      validateChatRequest({ ...exampleRequest, temperature: 3 }, log);
    } catch (e) {
      thrown = e;
    }
    expect((thrown as GenieError).body).toEqual(exampleErrors[0].error.body);
    expect(exampleBudgetRefusal.toEnvelope()).toMatchObject({ code: 'budget-cap-hit', capLayer: 'member', capWindow: 'day', error: { type: 'insufficient_quota', code: 'budget-cap-hit' } });
    expect(exampleBudgetRefusal.body.headers?.['retry-after']).toMatch(/^\d+$/);
  });
});
