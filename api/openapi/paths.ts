import { IDEMPOTENCY_KEY_PATTERN } from '../idempotency.js';
import { z } from 'zod';
import { applicationParamsSchema, capKeySchema, keyParamsSchema, listKeysQuerySchema, nodeParamsSchema, orgParamsSchema, personaParamsSchema, priceParamsSchema } from '../../protocol/admin.js';
import { inlineSchema } from './schemas.js';
import { batchParamsSchema, listBatchesQuerySchema } from '../../protocol/batch.js';
import { fileParamsSchema, listFilesQuerySchema, MAX_BATCH_LINES, MAX_EXPIRES_AFTER_SECONDS, MAX_FILE_BYTES, MIN_EXPIRES_AFTER_SECONDS } from '../../protocol/files.js';
import { formatBytes, MAX_REQUEST_BODY_BYTES } from '../../protocol/request-limits.js';

// The operations of the document. Each names the component schemas of schemas.ts (protocol/'s zod
// schemas), so bodies are never described twice; only HTTP details (status codes, headers, params) live here.

type Obj = Record<string, unknown>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
const answer = (description: string, id?: string, headers?: Obj) => ({ description, ...(id ? { content: json(id) } : {}), ...(headers ? { headers } : {}) });
const errors = (...names: string[]) => Object.fromEntries(names.map((n) => [ERROR_STATUS[n], { $ref: `#/components/responses/${n}` }]));
const body = (id: string, examples?: Obj) => ({
  required: true,
  content: { 'application/json': { schema: ref(id), ...(examples ? { examples } : {}) } },
});
const pathParam = (name: string, schema: Obj, description: string) => ({ name, in: 'path', required: true, description, schema });

/** A zod object's keys as parameters: the routes parse `req.params` / `req.query` with the same object. */
function params(where: 'path' | 'query', schema: z.ZodObject, description?: string): Obj[] {
  return Object.entries(schema.shape).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || !(s as z.ZodType).safeParse(undefined).success,
    ...(description ? { description } : {}),
    schema: inlineSchema(s as z.ZodType),
  }));
}

const ERROR_STATUS: Record<string, string> = {
  BadRequest: '400',
  Unauthorized: '401',
  BudgetCapHit: '402',
  NotFound: '404',
  Conflict: '409',
  TooLarge: '413',
  RateLimited: '429',
  ServerError: '500',
  Unavailable: '503',
};

const retryAfter = { 'Retry-After': { description: 'Whole seconds to wait before retrying.', schema: { type: 'integer' } } };
const completionIdHeader = {
  'x-genie-completion-id': { description: 'The completion (= workflow) id, on every answer of this route, errors included: what ops look up in the Temporal UI and the logs.', schema: { type: 'string', pattern: '^chatcmpl-' } },
};
const budgetHeaders = {
  ...completionIdHeader,
  'x-genie-budget-remaining': { description: "Micro-USD left in the caller's tightest cap after this request's reservation (absent when no cap applies).", schema: { type: 'integer' } },
  'x-genie-budget-resets-at': { description: 'When that cap resets (ISO-8601).', schema: { type: 'string', format: 'date-time' } },
};

export const errorResponses = {
  BadRequest: answer('Invalid request (body, query or a path segment that is not valid percent-encoding): `error.param` names the offending parameter.', 'Error'),
  Unauthorized: answer('Missing or invalid bearer token (`invalid_api_key`).', 'Error'),
  BudgetCapHit: answer('A budget cap would be exceeded (`insufficient_quota` / `budget-cap-hit`).', 'BudgetCapHit', retryAfter),
  NotFound: answer('Unknown model (`model_not_found`), job or resource (`not_found`).', 'Error'),
  Conflict: answer('`idempotency_key_reused` (same key, different body), `idempotency_key_in_use` (a keyed stream still running) or a duplicate.', 'Error'),
  TooLarge: answer(`The request body exceeds ${formatBytes(MAX_REQUEST_BODY_BYTES)} (\`request_too_large\`).`, 'Error'),
  RateLimited: answer('Every node serving the model is saturated (sync and stream only; async jobs queue).', 'Error', retryAfter),
  ServerError: answer("`server_error`: the node's own status and message pass through (e.g. `model failed to load: <model>`).", 'Error'),
  Unavailable: answer('`service_unavailable`: no node serving the model could be reached.', 'Error', retryAfter),
};

/**
 * One event of the stream. OpenAPI 3.1 has no standard for event streams; tools (schemathesis among them)
 * read `schema` as the schema of each event, as 3.2's `itemSchema` makes explicit.
 */
const sseEvent = {
  type: 'object',
  description: 'One Server-Sent Event: its `data` is a ChatCompletionChunk as JSON; `data: [DONE]` ends the stream.',
  required: ['data'],
  properties: {
    data: { anyOf: [{ const: '[DONE]' }, { type: 'string', contentMediaType: 'application/json', contentSchema: ref('ChatCompletionChunk') }] },
    event: { type: 'string' },
    id: { type: 'string' },
    retry: { type: 'integer' },
  },
};

const jobId = pathParam('jobId', { type: 'string' }, 'The job id, or the completion id `chatcmpl-<jobId>`.');
const apiKey = [{ apiKey: [] }];
const admin = [{ adminToken: [] }];
const minimalRequest = { model: 'qwen3:0.6b', messages: [{ role: 'user', content: 'hi' }] };
const requestExamples = {
  sync: { summary: 'Sync (the default)', value: minimalRequest },
  stream: { summary: 'Stream (SSE), with the usage chunk', value: { ...minimalRequest, stream: true, stream_options: { include_usage: true } } },
  async: {
    summary: 'Async, webhooked on completion',
    value: { ...minimalRequest, mode: 'async', metadata: { batch: '42' }, webhook: { url: 'https://example.com/genie-hook', secret: 'whsec_c2VjcmV0LXNlY3JldA==' } },
  },
};

const v1 = {
  '/v1/chat/completions': {
    post: {
      operationId: 'createChatCompletion',
      tags: ['chat'],
      summary: 'Create a chat completion (sync, stream or async)',
      description:
        '`mode` wins when present; without it `stream` picks sync or stream. Every completion is a Temporal workflow ' +
        'whose id is the completion id. Refusals (validation, budget, unknown model) come before any SSE byte or 202.',
      security: apiKey,
      parameters: [
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description: 'Same key + same body → the same job/result (24 h); a different body → 409.',
          schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
        },
      ],
      requestBody: body('ChatCompletionRequest', requestExamples),
      responses: {
        '200': {
          description: 'Sync: the completion body. Stream: Server-Sent Events, one `ChatCompletionChunk` per `data:` line, then `data: [DONE]`; an error after the head is an inline chunk `[error] <status> <message>` with `finish_reason: "error"`.',
          headers: budgetHeaders,
          content: {
            'application/json': { schema: ref('ChatCompletion') },
            'text/event-stream': { schema: sseEvent },
          },
        },
        '202': answer('Async: the job was admitted (budget reserved); poll `poll_url` or wait for the webhook.', 'AsyncAccepted', budgetHeaders),
        ...errors('BadRequest', 'Unauthorized', 'BudgetCapHit', 'NotFound', 'Conflict', 'TooLarge', 'RateLimited', 'ServerError', 'Unavailable'),
      },
    },
  },
  '/v1/models': {
    get: {
      operationId: 'listModels',
      tags: ['models'],
      summary: 'Models served by healthy nodes, then the persona aliases',
      security: apiKey,
      responses: { '200': answer('The models.', 'ModelList'), ...errors('Unauthorized') },
    },
  },
  '/v1/jobs/{jobId}': {
    get: {
      operationId: 'getJob',
      tags: ['jobs'],
      summary: 'An async job: status, result or error, webhook delivery state',
      security: apiKey,
      parameters: [jobId],
      responses: { '200': answer('The job.', 'Job'), ...errors('BadRequest', 'Unauthorized', 'NotFound') },
    },
  },
  '/v1/jobs/{jobId}/cancel': {
    post: {
      operationId: 'cancelJob',
      tags: ['jobs'],
      summary: 'Cancel a job (idempotent: a finished job is returned unchanged)',
      security: apiKey,
      parameters: [jobId],
      responses: { '200': answer('The job after cancellation.', 'Job'), ...errors('BadRequest', 'Unauthorized', 'NotFound') },
    },
  },
  '/v1/files': {
    post: {
      operationId: 'uploadFile',
      tags: ['files'],
      summary: 'Upload a batch input file (JSONL, multipart/form-data)',
      description: `At most ${formatBytes(MAX_FILE_BYTES)} and ${MAX_BATCH_LINES} lines; each line \`{custom_id, method: "POST", url: "/v1/chat/completions", body}\`. Lines are validated when a batch uses the file.`,
      security: apiKey,
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['file', 'purpose'],
              properties: {
                file: { type: 'string', format: 'binary' },
                purpose: { type: 'string', enum: ['batch'] },
                // OpenAI's `expires_after`, as its SDKs spell it in a form; without it the file lives until deleted.
                'expires_after[anchor]': { type: 'string', enum: ['created_at'] },
                'expires_after[seconds]': { type: 'integer', minimum: MIN_EXPIRES_AFTER_SECONDS, maximum: MAX_EXPIRES_AFTER_SECONDS },
              },
            },
          },
        },
      },
      responses: { '200': answer('The stored file.', 'File'), ...errors('BadRequest', 'Unauthorized'), '413': answer(`The file exceeds ${formatBytes(MAX_FILE_BYTES)} (\`file_too_large\`).`, 'Error') },
    },
    get: {
      operationId: 'listFiles',
      tags: ['files'],
      summary: "The org's files (newest first by default; cursor `after`)",
      security: apiKey,
      parameters: params('query', listFilesQuerySchema),
      responses: { '200': answer('A page of files.', 'FileList'), ...errors('BadRequest', 'Unauthorized') },
    },
  },
  '/v1/files/{fileId}': {
    get: { operationId: 'getFile', tags: ['files'], summary: 'A file', security: apiKey, parameters: params('path', fileParamsSchema), responses: { '200': answer('The file.', 'File'), ...errors('BadRequest', 'Unauthorized', 'NotFound') } },
    delete: { operationId: 'deleteFile', tags: ['files'], summary: 'Delete a file', security: apiKey, parameters: params('path', fileParamsSchema), responses: { '200': answer('Deleted.', 'FileDeleted'), ...errors('BadRequest', 'Unauthorized', 'NotFound') } },
  },
  '/v1/files/{fileId}/content': {
    get: {
      operationId: 'getFileContent',
      tags: ['files'],
      summary: "A file's bytes (JSONL; an output file's lines are `BatchOutputLine`s)",
      security: apiKey,
      parameters: params('path', fileParamsSchema),
      responses: { '200': { description: 'The content.', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }, ...errors('BadRequest', 'Unauthorized', 'NotFound') },
    },
  },
  '/v1/batches': {
    post: {
      operationId: 'createBatch',
      tags: ['batches'],
      summary: 'Create a batch from an uploaded file; every line runs as an async chat completion',
      description: 'Answers `validating` at once; GET it (or wait for the webhook) until `completed`, `failed`, `expired` or `cancelled`.',
      security: apiKey,
      requestBody: body('CreateBatch'),
      responses: { '200': answer('The batch.', 'Batch'), ...errors('BadRequest', 'Unauthorized', 'NotFound') },
    },
    get: {
      operationId: 'listBatches',
      tags: ['batches'],
      summary: "The org's batches, newest first (cursor `after`)",
      security: apiKey,
      parameters: params('query', listBatchesQuerySchema),
      responses: { '200': answer('A page of batches.', 'BatchList'), ...errors('BadRequest', 'Unauthorized') },
    },
  },
  '/v1/batches/{batchId}': {
    get: { operationId: 'getBatch', tags: ['batches'], summary: 'A batch, with live request counts', security: apiKey, parameters: params('path', batchParamsSchema), responses: { '200': answer('The batch.', 'Batch'), ...errors('BadRequest', 'Unauthorized', 'NotFound') } },
  },
  '/v1/batches/{batchId}/cancel': {
    post: {
      operationId: 'cancelBatch',
      tags: ['batches'],
      summary: 'Cancel a batch: no line starts after this answers; running lines finish and are kept',
      security: apiKey,
      parameters: params('path', batchParamsSchema),
      responses: { '200': answer('The batch (`cancelling`, or as it ended).', 'Batch'), ...errors('BadRequest', 'Unauthorized', 'NotFound') },
    },
  },
  '/v1/me': {
    get: {
      operationId: 'whoAmI',
      tags: ['me'],
      summary: "The API key's org, application, member and user ids",
      security: apiKey,
      responses: { '200': answer('Who this key is.', 'ApiKeyInfo'), ...errors('Unauthorized') },
    },
  },
  '/healthz': {
    get: {
      operationId: 'health',
      tags: ['ops'],
      summary: 'Liveness of Postgres and Temporal',
      security: [],
      responses: { '200': answer('Both answer.', 'Health'), '503': answer('One does not: the body says which.', 'Health') },
    },
  },
};

const adminErrors = errors('BadRequest', 'Unauthorized');
const created = (id = 'Created') => ({ '201': answer('Created.', id), ...adminErrors, ...errors('NotFound', 'Conflict') });
const adminOp = (operationId: string, summary: string, extra: Obj) => ({ operationId, tags: ['admin'], summary, security: admin, ...extra });
const orgId = params('path', orgParamsSchema, 'The org id.');
const nodeId = params('path', nodeParamsSchema, 'The node id.');
const keyId = params('path', keyParamsSchema, 'The API key id (`key_…`, never the key itself).');

const adminPaths = {
  '/admin/v1/orgs': { post: adminOp('createOrg', 'Create an org', { requestBody: body('CreateOrg'), responses: created() }) },
  '/admin/v1/users': { post: adminOp('createUser', 'Create a user', { requestBody: body('CreateUser'), responses: created() }) },
  '/admin/v1/orgs/{orgId}/members': {
    post: adminOp('addMember', 'Add a user to an org', { parameters: orgId, requestBody: body('AddMember'), responses: created() }),
  },
  '/admin/v1/orgs/{orgId}/applications': {
    post: adminOp('createApplication', 'Create an application in an org', { parameters: orgId, requestBody: body('CreateApplication'), responses: created() }),
  },
  '/admin/v1/applications/{applicationId}/keys': {
    post: adminOp('createKey', 'Issue an API key for (application, member)', {
      parameters: params('path', applicationParamsSchema, 'The application id.'),
      requestBody: body('CreateKey'),
      responses: created('CreatedKey'),
    }),
  },
  '/admin/v1/keys': {
    get: adminOp('listKeys', 'API keys (ids, prefixes, dates and states; never a key or its hash)', {
      description:
        'Filtered by org, application and member when given; oldest first, a page at a time (`limit`, 100 by default, up to 1000). ' +
        'The next page starts `after` the `last_id` of this one while `has_more` is true; a key issued meanwhile lands on a later page.',
      parameters: params('query', listKeysQuerySchema),
      responses: { '200': answer('The keys.', 'KeyList'), ...adminErrors },
    }),
  },
  '/admin/v1/keys/{keyId}/revoke': {
    post: adminOp('revokeKey', 'Revoke an API key', {
      description:
        'Refused from now on (`401 invalid_api_key`) by every API within its auth cache lifetime (GENIE_AUTH_CACHE_TTL_MS, 10 s). ' +
        'Idempotent; a rotated key still in its grace period is cut short.',
      parameters: keyId,
      responses: { '200': answer('The key, revoked.', 'Key'), ...adminErrors, ...errors('NotFound') },
    }),
  },
  '/admin/v1/keys/{keyId}/rotate': {
    post: adminOp('rotateKey', 'Replace an API key by a new one for the same application and member', {
      description:
        'The old key is revoked `graceSeconds` from now (0, the default: at once), so its callers can switch over; it is then `expiring`. ' +
        'A revoked or already rotated key is not rotated again (409 `key_revoked`).',
      parameters: keyId,
      requestBody: { required: false, content: { 'application/json': { schema: ref('RotateKey') } } },
      responses: { '201': answer('The new key (shown only here) and the old one as it now stands.', 'RotatedKey'), ...adminErrors, ...errors('NotFound', 'Conflict') },
    }),
  },
  '/admin/v1/caps': {
    put: adminOp('putCap', 'Create or replace a budget cap', { requestBody: body('PutCap'), responses: { '200': answer('The cap.', 'Cap'), ...adminErrors } }),
    delete: adminOp('deleteCap', 'Remove a budget cap', {
      parameters: params('query', capKeySchema),
      responses: { '204': { description: 'Removed.' }, ...adminErrors, ...errors('NotFound') },
    }),
  },
  '/admin/v1/prices/{model}': {
    put: adminOp('putPrice', "Set a model's price", {
      parameters: params('path', priceParamsSchema, 'The model id (URL-encoded).'),
      requestBody: body('PutPrice'),
      responses: { '200': answer('The price.', 'Price'), ...adminErrors },
    }),
  },
  '/admin/v1/usage': {
    get: adminOp('getUsage', 'Spend, reservations and limit of one cap window', {
      parameters: params('query', capKeySchema),
      responses: { '200': answer('The current window.', 'Usage'), ...adminErrors },
    }),
  },
  '/admin/v1/personas': {
    get: adminOp('listPersonas', 'Persona aliases and their models', { responses: { '200': answer('The aliases.', 'PersonaMap'), ...errors('Unauthorized') } }),
  },
  '/admin/v1/personas/{alias}': {
    put: adminOp('putPersona', 'Point a persona alias at a model (applied within seconds)', {
      parameters: params('path', personaParamsSchema, 'The persona alias.'),
      requestBody: body('PutPersona'),
      responses: { '200': answer('The alias.', 'Persona'), ...adminErrors },
    }),
  },
  '/admin/v1/nodes': {
    get: adminOp('listNodes', "This deployment's GPU node registry", { responses: { '200': answer('The nodes.', 'NodeList'), ...errors('Unauthorized') } }),
    post: adminOp('addNode', 'Register a node (probed at once)', { requestBody: body('CreateNode'), responses: { '201': answer('Registered.', 'Created'), ...adminErrors } }),
  },
  '/admin/v1/nodes/{id}': {
    patch: adminOp('setNodeState', 'Drain, activate or mark a node down', {
      parameters: nodeId,
      requestBody: body('PatchNode'),
      responses: { '200': answer('The node.', 'Node'), ...adminErrors, ...errors('NotFound') },
    }),
    delete: adminOp('removeNode', 'Remove a node', { parameters: nodeId, responses: { '204': { description: 'Removed.' }, ...adminErrors, ...errors('NotFound') } }),
  },
};

export const paths = { ...v1, ...adminPaths };
