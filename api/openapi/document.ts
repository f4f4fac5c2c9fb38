import { errorResponses, paths } from './paths.js';
import { componentSchemas } from './schemas.js';

// GET /openapi.json: OpenAPI 3.1 generated from protocol/'s zod schemas, so the document cannot drift
// from what the API validates and answers (DESIGN §6.1: one schema is validator, type and doc).

export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, unknown>; components: Record<string, Record<string, unknown>> };

/** Documented `model` values in the request schema: a fuzzer or reader starts from models that exist. */
const MODEL_EXAMPLES = ['qwen3:0.6b', 'lite'];

function build(): OpenApiDocument {
  const schemas = componentSchemas();
  const request = schemas.ChatCompletionRequest as { properties: Record<string, Record<string, unknown>> };
  request.properties.model = { ...request.properties.model, examples: MODEL_EXAMPLES, description: 'A model id from GET /v1/models or a persona alias (lite, standard, pro, coder, heavy).' };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Genie',
      version: '0.1.0',
      description:
        'OpenAI-compatible chat completions on open-weights models; every completion is a Temporal workflow. ' +
        'Errors use OpenAI\'s envelope `{"error":{"message","type","param","code"}}`. The docs page\'s widget calls ' +
        'the same handlers under `/api/v1`. The admin API (`/admin/v1`, camelCase) takes the admin token.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'chat', description: 'POST /v1/chat/completions in sync, stream and async mode' },
      { name: 'jobs', description: 'Async jobs' },
      { name: 'models' },
      { name: 'me' },
      { name: 'ops' },
      { name: 'admin', description: 'Tenants, keys, budget caps, prices, personas and the GPU node registry' },
    ],
    paths,
    components: {
      schemas,
      responses: errorResponses,
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer sk-genie-…`.' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'The admin token (`GENIE_ADMIN_TOKEN`).' },
      },
    },
  };
}

let cached: OpenApiDocument | undefined;

/** Built once per process (the schemas are static); callers must not mutate it. */
export function openApiDocument(): OpenApiDocument {
  cached ??= build();
  return cached;
}
