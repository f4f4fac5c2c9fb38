import { parseArgs } from 'node:util';
import { z } from 'zod';

// Flags are named after llm-d-inference-sim's (DESIGN §3a).
/** A list flag: `a,b` on the command line, an array when started from code. */
const csv = z.union([
  z.array(z.string()),
  z.string().transform((s) => s.split(',').map((m) => m.trim()).filter(Boolean)),
]);
export const simulatorOptionsSchema = z.object({
  engine: z.enum(['vllm', 'triton']).default('vllm'),
  port: z.coerce.number().int().min(0).max(65535).default(9101),
  host: z.string().default('127.0.0.1'),
  models: csv.default(['qwen3:0.6b']),
  timeToFirstToken: z.coerce.number().nonnegative().default(0),
  interTokenLatency: z.coerce.number().nonnegative().default(0),
  maxNumSeqs: z.coerce.number().int().positive().default(64),
  /** Percentage (0–100) of requests that fail, as llm-d-inference-sim's flag. */
  failureInjectionRate: z.coerce.number().min(0).max(100).default(0),
  /** What an injected failure looks like: a 500 before any token, or an error event after half the tokens. */
  failureTypes: csv.default(['server_error']).pipe(z.array(z.enum(['server_error', 'mid_stream', 'invalid_json'])).min(1)),
  failLoadModel: csv.default([]),
  hang: z.boolean().default(false),
  /** A fault: a streamed answer sends this many tokens, then nothing more, holding the connection open. */
  stallAfter: z.coerce.number().int().nonnegative().optional(),
  /** Every completion runs to max_tokens (finish_reason "length"), as vLLM's `ignore_eos` makes it. */
  ignoreEos: z.boolean().default(false),
  /** Each generated token is this many bytes (its word repeated): large completions from few tokens. */
  tokenBytes: z.coerce.number().int().positive().optional(),
  seed: z.coerce.number().int().default(0),
  /** Prompt + output tokens a model accepts (vLLM's `--max-model-len`, reported in /v1/models). */
  maxModelLen: z.coerce.number().int().positive().default(32768),
  /** Triton only: the metrics port (Triton serves Prometheus metrics apart from HTTP, 8002 by default; 0 = any free port). */
  metricsPort: z.coerce.number().int().min(0).max(65535).default(0),
  /** Idle keep-alive connections are closed after this (uvicorn's default, so vLLM's: 5 s; Triton keeps them, 0). */
  keepAliveTimeoutMs: z.coerce.number().int().nonnegative().optional(),
  /** A fault: usage reports this many prompt tokens more than the node counted (a buggy or lying engine). */
  overReportPromptTokens: z.coerce.number().int().nonnegative().default(0),
});
export type SimulatorOptions = z.infer<typeof simulatorOptionsSchema>;
export type SimulatorFlags = z.input<typeof simulatorOptionsSchema>;

export const usage = `genie node simulator — a GPU-free vLLM-compatible server

  --engine vllm|triton             protocol: vLLM's OpenAI API, or Triton's KServe v2 generate extension
  --port N                         listen port (0 = any free port; the chosen one is printed)
  --host H                         listen address (default 127.0.0.1)
  --models a,b                     served model ids
  --time-to-first-token MS         delay before the first token
  --inter-token-latency MS         delay between tokens
  --max-num-seqs N                 concurrent sequences; the rest wait (vllm:num_requests_waiting)
  --failure-injection-rate PCT     percentage of requests that fail
  --failure-types T[,T]            server_error (500 before any token) | mid_stream (error after half the tokens)
                                   | invalid_json (structured output that breaks its schema)
  --fail-load-model a[,b]          models that always fail with 500 "model failed to load: <model>"
  --hang                           accept chat requests and never answer (health still says 200)
  --stall-after N                  fault: a streamed answer sends N tokens, then nothing (the connection stays open)
  --ignore-eos                     every completion runs to max_tokens (finish_reason length), as vLLM's ignore_eos
  --token-bytes N                  each generated token is N bytes long (big completions from few tokens)
  --seed N                         global seed mixed into every request's seed
  --max-model-len N                context length: prompt + max_tokens beyond it is a 400, as vLLM answers
  --metrics-port N                 triton: Prometheus metrics on their own port, as Triton serves them (0 = free)
  --keep-alive-timeout MS          idle keep-alive connections close after this (default 5000, uvicorn's)
  --over-report-prompt-tokens N    fault: usage reports N prompt tokens more than were counted
  --help`;

export function parseSimulatorArgs(argv: string[]): SimulatorOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      engine: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      models: { type: 'string' },
      'time-to-first-token': { type: 'string' },
      'inter-token-latency': { type: 'string' },
      'max-num-seqs': { type: 'string' },
      'failure-injection-rate': { type: 'string' },
      'failure-types': { type: 'string' },
      'fail-load-model': { type: 'string' },
      hang: { type: 'boolean' },
      'stall-after': { type: 'string' },
      'ignore-eos': { type: 'boolean' },
      'token-bytes': { type: 'string' },
      seed: { type: 'string' },
      'max-model-len': { type: 'string' },
      'metrics-port': { type: 'string' },
      'keep-alive-timeout': { type: 'string' },
      'over-report-prompt-tokens': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  return simulatorOptionsSchema.parse({
    engine: values.engine,
    port: values.port,
    host: values.host,
    models: values.models,
    timeToFirstToken: values['time-to-first-token'],
    interTokenLatency: values['inter-token-latency'],
    maxNumSeqs: values['max-num-seqs'],
    failureInjectionRate: values['failure-injection-rate'],
    failureTypes: values['failure-types'],
    failLoadModel: values['fail-load-model'],
    hang: values.hang,
    stallAfter: values['stall-after'],
    ignoreEos: values['ignore-eos'],
    tokenBytes: values['token-bytes'],
    seed: values.seed,
    maxModelLen: values['max-model-len'],
    metricsPort: values['metrics-port'],
    keepAliveTimeoutMs: values['keep-alive-timeout'],
    overReportPromptTokens: values['over-report-prompt-tokens'],
  });
}
