import { z } from 'zod';
import {
  addMemberSchema,
  createApplicationSchema,
  createdKeySchema,
  createKeySchema,
  createOrgSchema,
  createUserSchema,
  idSchema,
  keyListSchema,
  keyViewSchema,
  personaMapSchema,
  personaSchema,
  priceViewSchema,
  putCapSchema,
  putPersonaSchema,
  putPriceSchema,
  rotatedKeySchema,
  rotateKeySchema,
} from '../../protocol/admin.js';
import { capSchema, usageViewSchema } from '../../protocol/budget.js';
import { chatCompletionRequestSchema, unsupportedParams } from '../../protocol/chat-request.js';
import { chatCompletionChunkSchema, chatCompletionSchema, modelListSchema } from '../../protocol/chat-response.js';
import { budgetCapHitBodySchema, errorEnvelopeSchema } from '../../protocol/errors.js';
import { healthSchema } from '../../protocol/health.js';
import { asyncAcceptedSchema, jobViewSchema } from '../../protocol/job.js';
import { createNodeSchema, nodeListSchema, nodeRecordSchema, patchNodeSchema } from '../../protocol/node.js';
import { apiKeyInfoSchema } from '../../protocol/principal.js';
import { batchListSchema, batchOutputLineSchema, batchSchema, createBatchSchema } from '../../protocol/batch.js';
import { fileDeletedSchema, fileListSchema, fileObjectSchema, MAX_FILE_BYTES } from '../../protocol/files.js';
import { formatBytes } from '../../protocol/request-limits.js';

// components.schemas, converted from protocol/'s zod schemas by zod's own z.toJSONSchema (JSON Schema
// 2020-12, which is OpenAPI 3.1's dialect). Request bodies convert as zod *accepts* them (io: 'input':
// defaults are optional), answers as zod *produces* them (io: 'output').

type Meta = { id: string; description?: string };
type JsonSchema = Record<string, unknown>;

const requests = z.registry<Meta>();
requests.add(chatCompletionRequestSchema, {
  id: 'ChatCompletionRequest',
  description:
    "OpenAI's Chat Completions request plus Genie's `mode` and `webhook`. Also enforced beyond this schema: " +
    '`stream: true` conflicts with `mode` "sync"/"async" (400 `param: stream`); `tool_choice` needs `tools` and must ' +
    'name one of them; image parts are refused (no served model takes images); `webhook` only with `mode: "async"`; ' +
    '`stream_options` only in stream mode; at most 16 `metadata` keys. Keys Genie does not know are ignored; known ' +
    `parameters it cannot honour are refused with 400 \`unsupported_parameter\`: ${unsupportedParams.join(', ')}.`,
});
requests.add(createBatchSchema, {
  id: 'CreateBatch',
  description: "OpenAI's batch request plus Genie's `webhook` (the final batch object is POSTed there when the batch ends, signed as async jobs' webhooks are).",
});
requests.add(createOrgSchema, { id: 'CreateOrg' });
requests.add(createUserSchema, { id: 'CreateUser' });
requests.add(addMemberSchema, { id: 'AddMember' });
requests.add(createApplicationSchema, { id: 'CreateApplication' });
requests.add(createKeySchema, { id: 'CreateKey' });
requests.add(rotateKeySchema, { id: 'RotateKey' });
requests.add(putCapSchema, { id: 'PutCap', description: 'A cap on one layer and calendar-aligned UTC window, in integer micro-USD.' });
requests.add(putPriceSchema, { id: 'PutPrice', description: 'Integer micro-USD per million input and output tokens.' });
requests.add(putPersonaSchema, { id: 'PutPersona' });
requests.add(createNodeSchema, { id: 'CreateNode' });
requests.add(patchNodeSchema, { id: 'PatchNode' });

const answers = z.registry<Meta>();
answers.add(chatCompletionSchema, { id: 'ChatCompletion', description: 'The sync body; also the `result` of a completed job and a completed job’s webhook body.' });
answers.add(chatCompletionChunkSchema, { id: 'ChatCompletionChunk', description: 'One `data:` event of a stream; the stream ends with `data: [DONE]`.' });
answers.add(asyncAcceptedSchema, { id: 'AsyncAccepted', description: 'The 202 answer of `mode: "async"`; poll `poll_url`.' });
answers.add(jobViewSchema, { id: 'Job' });
answers.add(modelListSchema, { id: 'ModelList' });
answers.add(fileObjectSchema, { id: 'File', description: `An uploaded batch input (at most ${formatBytes(MAX_FILE_BYTES)}) or a batch's output / error file, scoped to the key's org.` });
answers.add(fileListSchema, { id: 'FileList' });
answers.add(fileDeletedSchema, { id: 'FileDeleted' });
answers.add(batchSchema, { id: 'Batch', description: "OpenAI's batch object plus Genie's `webhook` delivery state; `request_counts` move while it runs." });
answers.add(batchListSchema, { id: 'BatchList' });
answers.add(batchOutputLineSchema, { id: 'BatchOutputLine', description: 'One line of an output or error file (JSONL).' });
answers.add(apiKeyInfoSchema, { id: 'ApiKeyInfo' });
answers.add(errorEnvelopeSchema, { id: 'Error', description: "OpenAI's error envelope." });
answers.add(budgetCapHitBodySchema, {
  id: 'BudgetCapHit',
  description: "The seed's budget fields at top level and OpenAI's envelope; the first layer (org → application → member → user) that would be exceeded.",
});
answers.add(healthSchema, { id: 'Health' });
answers.add(idSchema, { id: 'Created' });
answers.add(createdKeySchema, { id: 'CreatedKey', description: 'The plain key is shown only in this answer.' });
answers.add(keyViewSchema, { id: 'Key', description: 'An API key as listings show it: never the key or its hash.' });
answers.add(keyListSchema, { id: 'KeyList' });
answers.add(rotatedKeySchema, { id: 'RotatedKey', description: 'The plain new key is shown only in this answer.' });
answers.add(capSchema, { id: 'Cap' });
answers.add(priceViewSchema, { id: 'Price' });
answers.add(usageViewSchema, { id: 'Usage' });
answers.add(personaSchema, { id: 'Persona' });
answers.add(personaMapSchema, { id: 'PersonaMap', description: 'Persona alias → the model id it resolves to.' });
answers.add(nodeRecordSchema, { id: 'Node' });
answers.add(nodeListSchema, { id: 'NodeList' });

const uri = (id: string) => `#/components/schemas/${id}`;
const common = { uri, target: 'draft-2020-12', unrepresentable: 'any', cycles: 'ref', reused: 'inline' } as const;

/**
 * A component's own `$schema`/`$id` are noise inside an OpenAPI document (its dialect is 3.1's default),
 * and `id` is the registry's name for it (the component key), not a JSON Schema keyword.
 */
function bare(schemas: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(schemas).map(([key, { $schema: _s, $id: _i, id: _n, ...rest }]) => [key, rest]));
}

/**
 * Answers may gain fields (OpenAI's own evolve the same way), so `additionalProperties: false`, which
 * zod's output mode writes for every object, is dropped: clients must ignore what they do not know.
 */
function open(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(open);
  if (!node || typeof node !== 'object') return node;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'additionalProperties' && v === false) continue;
    out[k] = open(v);
  }
  return out;
}

export function componentSchemas(): Record<string, JsonSchema> {
  const input = bare(z.toJSONSchema(requests, { ...common, metadata: requests, io: 'input' }).schemas as Record<string, JsonSchema>);
  const output = bare(z.toJSONSchema(answers, { ...common, metadata: answers, io: 'output' }).schemas as Record<string, JsonSchema>);
  return { ...input, ...(open(output) as Record<string, JsonSchema>) };
}

/** One zod schema → an inline JSON Schema (path and query parameters). */
export function inlineSchema(schema: z.ZodType): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', unrepresentable: 'any', io: 'input' }) as JsonSchema;
  return rest;
}
