import { WorkflowNotFoundError, defaultPayloadConverter } from '@temporalio/client';
import { marked } from 'marked';
import OpenAI from 'openai';
import { errorEnvelopeSchema } from '../../protocol/errors.js';
import { openai, temporalClient, testStack, withDb } from '../support/stack.js';
import { createTenant, putCap, type Tenant } from '../support/tenants.js';

// The edge under hostile input: what no workflow can carry is refused before one starts, and what a
// caller writes never becomes markup in the Temporal UI that ops read.

const MODEL = 'qwen3:0.6b';

async function post(tenant: Tenant, body: string) {
  const res = await fetch(`${testStack().apiUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` },
    body,
  });
  return { status: res.status, completionId: res.headers.get('x-genie-completion-id'), json: (await res.json()) as unknown };
}

/** The workflow a completion id names, or null when none was ever started under it. */
async function describeOrNull(workflowId: string) {
  const { client, close } = await temporalClient();
  try {
    return await client.workflow.getHandle(workflowId).describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  } finally {
    await close();
  }
}

/** Every workflow the tenant's org has ledger rows or usage records for. */
const accountedWorkflows = (tenant: Tenant) =>
  withDb(async (db) => {
    const ledger = await db.query("select distinct workflow_id from budget_ledger where layer = 'org' and subject_id = $1", [tenant.orgId]);
    const usage = await db.query('select workflow_id from usage_records where org_id = $1', [tenant.orgId]);
    return [...new Set([...ledger.rows, ...usage.rows].map((r) => r.workflow_id as string))].sort();
  });

async function workflowsOf(tenant: Tenant): Promise<string[]> {
  const { client, close } = await temporalClient();
  try {
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `GenieOrgId = "${tenant.orgId}"` })) ids.push(w.workflowId);
    return ids;
  } finally {
    await close();
  }
}

describe('what a workflow cannot carry is refused at the edge', () => {
  let tenant: Tenant;
  let ordinary: string;
  beforeAll(async () => {
    tenant = await createTenant();
    // A cap, so that an admitted request books ledger rows: their absence below means something.
    await putCap('org', tenant.orgId, 'day', 1_000_000_000);
    // One ordinary request of this tenant: the one workflow and the only rows the refusals may leave.
    const res = await post(tenant, JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }));
    expect(res.status).toBe(200);
    ordinary = res.completionId!;
    const { client, close } = await temporalClient();
    await client.workflow.getHandle(ordinary).result().finally(close);
    expect(await accountedWorkflows(tenant)).toEqual([ordinary]);
  });

  it('a 3 MB body (over Temporal’s 2 MiB payload limit, under the old 4 MB parser limit) is a 413 in OpenAI’s envelope, with no workflow and no ledger row', async () => {
    const body = JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a '.repeat(1_500_000) }] });
    expect(Buffer.byteLength(body)).toBeGreaterThan(3_000_000);
    const res = await post(tenant, body);
    expect(res.status).toBe(413);
    const envelope = errorEnvelopeSchema.parse(res.json);
    expect(envelope.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large', param: null });
    expect(envelope.error.message).toContain('1.5 MiB');
    expect(res.completionId).toBeNull(); // refused before the route chose a completion id
    expect(await accountedWorkflows(tenant)).toEqual([ordinary]);
  });

  it('the official SDK sees the 413 as an APIError with its status and code', async () => {
    const err = await openai(tenant.apiKey)
      .chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'b'.repeat(2 * 1024 * 1024) }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(413);
    expect(err.code).toBe('request_too_large');
    expect(await accountedWorkflows(tenant)).toEqual([ordinary]);
  });

  it('a schema over the size bound is a 400 naming it, with no workflow for its completion id', async () => {
    const wide = { type: 'object', properties: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`f${i}`, { type: 'string' }])) };
    for (const [extra, param] of [
      [{ response_format: { type: 'json_schema', json_schema: { name: 'wide', schema: wide } } }, 'response_format.json_schema.schema'],
      [{ tools: [{ type: 'function', function: { name: 'wide', parameters: wide, strict: true } }] }, 'tools[0].function.parameters'],
    ] as const) {
      const res = await post(tenant, JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...extra }));
      expect(res.status).toBe(400);
      expect(errorEnvelopeSchema.parse(res.json).error).toMatchObject({ type: 'invalid_request_error', param });
      expect(await describeOrNull(res.completionId!)).toBeNull();
    }
    expect(await accountedWorkflows(tenant)).toEqual([ordinary]);
  });

  it('the tenant’s only workflow is its ordinary request', async () => {
    // Visibility is eventually consistent: wait until it shows the ordinary one, started first of all.
    let seen: string[] = [];
    for (const end = Date.now() + 30_000; !seen.includes(ordinary) && Date.now() < end; ) {
      seen = await workflowsOf(tenant);
      if (!seen.includes(ordinary)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(seen).toEqual([ordinary]);
  });
});

describe('what ops read in the Temporal UI', () => {
  it('a model id with Markdown and HTML in it shows as text in every summary and detail of its workflow, never as a link or an image', async () => {
    const model = 'evil`[x](http://evil.example/a)<img src=x onerror=alert(1)> http://bare.example ``**b**';
    const err = await openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err.status).toBe(404); // unknown: refused at admission, inside its workflow
    const id = (err.headers as Headers).get('x-genie-completion-id')!;
    const { client, close } = await temporalClient();
    try {
      const handle = client.workflow.getHandle(id);
      await handle.result().catch(() => undefined);
      const desc = await handle.describe();
      const meta = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
      const history = await handle.fetchHistory();
      const stepSummaries = history.events!.filter((e) => e.userMetadata?.summary).map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary!));
      const texts = { staticSummary: await desc.staticSummary(), staticDetails: await desc.staticDetails(), currentDetails: meta.currentDetails, admit: stepSummaries.find((s) => s.startsWith('admit')) };
      for (const [where, text] of Object.entries(texts)) {
        expect([where, text]).toEqual([where, expect.stringContaining('onerror')]); // the model is there…
        const html = marked.parse(text!, { async: false });
        // …but only as text: no element came out of it, and its characters are escaped.
        expect([where, html]).toEqual([where, expect.not.stringMatching(/<(a|img)\b|<strong>b</)]);
        expect([where, html]).toEqual([where, expect.stringContaining('&lt;img src=x onerror=alert(1)&gt;')]);
      }
    } finally {
      await close();
    }
  });
});
