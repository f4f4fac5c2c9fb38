import type { ChatCompletionRequest } from './chat-request.js';
import type { ChatCompletion, ChatCompletionChunk, ModelList } from './chat-response.js';
import { GenieError } from './errors.js';
import type { AsyncAccepted, JobView } from './job.js';

// Wire examples shared by the documentation page (GET /) and its tests: the page renders exactly
// these objects, and test/browser/docs-content.test.ts parses each one with its zod schema, so an
// example that drifts from the contract fails a test instead of misleading a reader.

const CREATED = 1731020000;
const JOB_ID = 'cmoz7k2p1x4b9q0e3n8r5t6w2';
const ID = `chatcmpl-${JOB_ID}`;
const MODEL = 'qwen3:0.6b';

/** The seed page's request: the smallest useful body. */
export const exampleRequest = {
  model: MODEL,
  messages: [{ role: 'user', content: 'hi' }],
} satisfies ChatCompletionRequest;

/** The "Try it" form's initial state: a request that shows off sampling controls too. */
export const tryItDefaults = {
  model: MODEL,
  messages: [
    { role: 'system', content: 'You are a concise assistant.' },
    { role: 'user', content: 'In two sentences: what does Genie do?' },
  ],
  mode: 'stream',
  temperature: 0.7,
  top_p: 1,
  max_tokens: 256,
} as const;

export const exampleSyncResponse = {
  id: ID,
  object: 'chat.completion',
  created: CREATED,
  model: MODEL,
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Genie runs open-weights models on a fleet of GPU nodes.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 12, completion_tokens: 11, total_tokens: 23 },
} satisfies ChatCompletion;

const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null): ChatCompletionChunk => ({
  id: ID,
  object: 'chat.completion.chunk',
  created: CREATED,
  model: MODEL,
  choices: [{ index: 0, delta, finish_reason: finish }],
});

/** The seed's stream sequence, with OpenAI's full chunk fields (DESIGN §3a). */
export const exampleStreamChunks: ChatCompletionChunk[] = [
  chunk({ role: 'assistant', content: '' }),
  chunk({ content: 'Genie' }),
  chunk({ content: ' runs' }),
  chunk({}, 'stop'),
];

/** A failure after the stream's head was sent: inline, never silence. */
export const exampleStreamErrorChunks: ChatCompletionChunk[] = [
  { ...chunk({ role: 'assistant', content: '' }), model: 'broken:latest' },
  { ...chunk({ content: '[error] 500 model failed to load: broken:latest' }, 'error'), model: 'broken:latest' },
];

export const exampleAsyncAccepted = {
  id: ID,
  object: 'chat.completion.async',
  status: 'queued',
  poll_url: `/v1/jobs/${JOB_ID}`,
  created: CREATED,
} satisfies AsyncAccepted;

export const exampleCompletedJob = {
  id: JOB_ID,
  object: 'chat.completion.job',
  status: 'completed',
  created: CREATED,
  model: MODEL,
  result: exampleSyncResponse,
} satisfies JobView;

export const exampleModelList = {
  object: 'list',
  data: [
    { id: 'qwen3:0.6b', object: 'model', created: CREATED, owned_by: 'genie' },
    { id: 'qwen3:8b', object: 'model', created: CREATED, owned_by: 'genie' },
    { id: 'lite', object: 'model', created: CREATED, owned_by: 'genie', persona_of: 'qwen3:0.6b' },
  ],
} satisfies ModelList;

/** A fixed clock so the 402 example (and its Retry-After) reads the same on every render. */
const NOW = Date.parse('2025-11-08T15:20:00.000Z');
const RESETS_AT = '2025-11-09T00:00:00.000Z';

/**
 * One example per error the API answers with, built by the same GenieError factories the request
 * path throws — so the documented bodies are the real ones.
 */
export const exampleErrors: Array<{ when: string; error: GenieError }> = [
  { when: 'A parameter fails validation; `param` names it.', error: GenieError.badRequest("Invalid value for 'temperature': Too big: expected number to be <=2", 'temperature') },
  { when: 'A known OpenAI parameter Genie cannot honour yet.', error: GenieError.badRequest("'logprobs' is not supported yet.", 'logprobs', 'unsupported_parameter') },
  { when: 'Missing or wrong API key.', error: GenieError.unauthorized('Incorrect API key provided.') },
  { when: 'A budget cap would be exceeded (see Budgets).', error: GenieError.budgetCapHit('member', 'day', RESETS_AT, NOW) },
  { when: 'Unknown model or persona.', error: GenieError.modelNotFound('qwen9:1t') },
  { when: 'A job id that does not exist or belongs to another org.', error: GenieError.jobNotFound('0mwwq7k2d1a9x3b8c4e5f6g7h') },
  { when: 'An Idempotency-Key reused with a different body.', error: GenieError.idempotencyKeyReused() },
  { when: 'An Idempotency-Key whose stream is still running (a finished one is replayed).', error: GenieError.idempotencyKeyInUse() },
  { when: 'The request body is larger than a completion can carry (see Limits).', error: GenieError.requestTooLarge() },
  { when: 'Every node serving the model is saturated (sync and stream; async jobs queue instead).', error: GenieError.saturated(MODEL, 2) },
  { when: "The node's own failure, passed through.", error: GenieError.upstream(500, 'model failed to load: broken:latest') },
  { when: 'No node that serves the model can be reached.', error: GenieError.unavailable('No reachable node serves qwen3:8b.') },
];

/** The 402 example on its own, for the Budgets section. */
export const exampleBudgetRefusal = exampleErrors.find((e) => e.error.body.status === 402)!.error;

/** How a receiver checks `X-Genie-Signature` (Node, no dependencies). */
export const webhookVerifySnippet = `import { createHmac, timingSafeEqual } from 'node:crypto';

// rawBody: the exact bytes received, before any JSON parsing.
function verify(rawBody, header, secret) {
  const expected = 'sha256=' + createHmac('sha256', secret).update(rawBody).digest('hex');
  return header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected));
}`;
