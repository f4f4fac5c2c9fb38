// What real Triton's HTTP front end answers (the simulator's Triton mimics it): names, both model
// shapes, parameter mapping, seed range, errors, readiness.
import { startTriton } from '../support/engines/triton.js';
import { brief, gen, metric, metrics, observed, post, startHarness, texts, triton, TRT, VLLM } from './triton-harness.js';

startHarness();

test('model names with a colon: raw in the path, never percent-encoded', async () => {
  const raw = await gen(TRT, { text_input: 'hello world', parameters: { stream: true, max_tokens: 3 } });
  const encoded = await gen(encodeURIComponent(TRT), { text_input: 'hello world', parameters: { stream: true, max_tokens: 3 } });
  const readyEncoded = await fetch(`${triton.url}/v2/models/${encodeURIComponent(TRT)}/ready`);
  observed.colon = { raw: brief(raw), encoded: brief(encoded), readyEncoded: { status: readyEncoded.status, body: await readyEncoded.text() } };
  expect(raw.status).toBe(200);
  expect(raw.contentType).toBe('text/event-stream; charset=utf-8');
  expect(raw.events).toHaveLength(3);
  expect(raw.events[0]).toEqual({ model_name: TRT, model_version: '1', text_output: expect.any(String) });
  expect(encoded.status).toBe(404);
  expect(JSON.parse(encoded.raw)).toEqual({ error: "Request for unknown model: 'qwen3%3A8b' is not found" });
  expect(readyEncoded.status).toBe(400);
});

test('TensorRT-LLM shape: one delta per token, max_tokens, stop_words, random_seed', async () => {
  const base = { text_input: 'tell me a story', parameters: { stream: true, max_tokens: 8 } };
  const a = await gen(TRT, base);
  const b = await gen(TRT, base);
  expect(a.status).toBe(200);
  expect(texts(a)).toHaveLength(8);
  expect(texts(a).every((t) => typeof t === 'string' && /^ [a-z]+$/.test(t))).toBe(true);
  expect(texts(b)).toEqual(texts(a)); // deterministic
  // A stop word is kept in the output (TensorRT-LLM), then the stream ends (flag-only FINAL: no event).
  const stop = texts(a)[2] as string;
  const stopped = await gen(TRT, { ...base, parameters: { ...base.parameters, stop_words: [stop.trim()] } });
  expect(texts(stopped)).toEqual(texts(a).slice(0, texts(a).indexOf(stop) + 1));
  const seeded = await gen(TRT, { ...base, parameters: { ...base.parameters, random_seed: 42 } });
  expect(texts(seeded)).not.toEqual(texts(a));
  // stream false: one event with the whole completion (no prompt).
  const unary = await gen(TRT, { ...base, parameters: { ...base.parameters, stream: false } });
  expect(texts(unary)).toEqual([texts(a).join('')]);
  // max_tokens is required: Triton checks only the input count, the model refuses.
  const noMax = await gen(TRT, { text_input: 'hi', parameters: { stream: true } });
  const onlyText = await gen(TRT, { text_input: 'hi' });
  const zero = await gen(TRT, { text_input: 'hi', parameters: { stream: true, max_tokens: 0 } });
  observed.trtllm = { stopWord: stop, stopped: texts(stopped), missingMaxTokens: brief(noMax), onlyTextInput: brief(onlyText), maxTokens0: brief(zero) };
  expect(onlyText.status).toBe(400);
  expect(onlyText.raw).toContain("missing required input(s) ['max_tokens']");
  expect(noMax.status).toBe(400);
  expect(zero).toMatchObject({ status: 200, raw: '' }); // a flag-only FINAL and nothing else
});

test('vLLM backend shape: deltas when streaming, sampling_parameters, prompt prepended when unary', async () => {
  const a = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: true } });
  expect(a.status).toBe(200);
  expect(texts(a)).toHaveLength(16); // SamplingParams' default max_tokens
  const sp = (o: object) => JSON.stringify(o);
  const five = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: true, sampling_parameters: sp({ max_tokens: 5 }) } });
  expect(texts(five)).toEqual(texts(a).slice(0, 5));
  const stop = (texts(a)[3] as string).trim();
  const stopped = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: true, sampling_parameters: sp({ max_tokens: 10, stop: [stop] }) } });
  // vLLM drops the stop string; the FINAL then rides on an empty delta.
  expect(texts(stopped)).toEqual([...texts(a).slice(0, texts(a).indexOf(` ${stop}`)), '']);
  const seeded = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: true, sampling_parameters: sp({ max_tokens: 5, seed: 7 }) } });
  expect(texts(seeded)).not.toEqual(texts(five));
  const unary = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: false, sampling_parameters: sp({ max_tokens: 5 }) } });
  expect(texts(unary)).toEqual([`tell me a story${texts(five).join('')}`]);
  const excluded = await gen(VLLM, { text_input: 'tell me a story', parameters: { stream: false, exclude_input_in_output: true, sampling_parameters: sp({ max_tokens: 5 }) } });
  expect(texts(excluded)).toEqual([texts(five).join('')]);
  const unknownKey = await gen(VLLM, { text_input: 'hi', parameters: { stream: true, sampling_parameters: sp({ max_tokens: 2, frobnicate: 1 }) } });
  observed.vllm = { stopped: texts(stopped), unknownSamplingKey: brief(unknownKey) };
  expect(unknownKey.status).toBe(400);
});

test('generate maps parameters to inputs by name; other keys become request parameters', async () => {
  // Top-level keys and `parameters` keys both feed inputs of the same name.
  const top = await gen(TRT, { text_input: 'hello world', max_tokens: 3, stream: true });
  expect(texts(top)).toHaveLength(3);
  const topUnknown = await gen(TRT, { text_input: 'hello world', frobnicate: 1, parameters: { stream: true, max_tokens: 3 } });
  // The model answers its request.parameters() JSON for a #params prompt.
  const echo = await gen(VLLM, { text_input: '#params', parameters: { stream: true, stop: 'x', max_tokens: 5, n: 1.5, flag: true } });
  const echoTrt = await gen(TRT, { text_input: '#params', parameters: { stream: true, max_tokens: 5, stop: 'x' } });
  const stopListTrt = await gen(TRT, { text_input: 'hello world', parameters: { stream: true, max_tokens: 3, stop: ['zulu'] } });
  const stopListVllm = await gen(VLLM, { text_input: 'hello world', parameters: { stream: true, stop: ['zulu'] } });
  const stopObj = await gen(VLLM, { text_input: 'hello world', parameters: { stream: true, stop: { a: 1 } } });
  const stopWordsString = await gen(TRT, { text_input: 'hello world', parameters: { stream: true, max_tokens: 8, stop_words: 'zulu' } });
  const maxTokensString = await gen(TRT, { text_input: 'hello world', parameters: { stream: true, max_tokens: '3' } });
  const streamString = await gen(TRT, { text_input: 'hello world', parameters: { stream: 'true', max_tokens: 3 } });
  const tempInt = await gen(TRT, { text_input: 'hello world', parameters: { stream: true, max_tokens: 3, temperature: 0, top_p: 1 } });
  const samplingObject = await gen(VLLM, { text_input: 'hello world', parameters: { stream: true, sampling_parameters: { max_tokens: 2 } } });
  const unary = await post(`/v2/models/${TRT}/generate`, { text_input: 'hello world', parameters: { stream: true, max_tokens: 3 } });
  const unaryOne = await post(`/v2/models/${TRT}/generate`, { text_input: 'hello world', parameters: { stream: false, max_tokens: 3 } });
  observed.parameters = {
    topLevelUnknownKey: { status: topUnknown.status, events: topUnknown.events.length },
    requestParametersVllm: texts(echo)[0],
    requestParametersTrt: texts(echoTrt)[0],
    stopListTrt: brief(stopListTrt),
    stopListVllm: brief(stopListVllm),
    stopObject: brief(stopObj),
    stopWordsAsString: texts(stopWordsString),
    maxTokensAsString: brief(maxTokensString),
    streamAsString: brief(streamString),
    temperatureAsJsonInt: { status: tempInt.status, events: tempInt.events.length },
    samplingParametersAsObject: brief(samplingObject),
    generateDecoupledManyResponses: brief(unary),
    generateDecoupledOneResponse: brief(unaryOne),
  };
  expect(topUnknown.status).toBe(200);
  expect(JSON.parse(texts(echo)[0] as string)).toEqual({ stop: 'x', max_tokens: 5, n: 1.5, flag: true });
  expect(JSON.parse(texts(echoTrt)[0] as string)).toEqual({ stop: 'x' });
  for (const a of [stopListTrt, stopListVllm]) {
    expect(a.status).toBe(400);
    expect(JSON.parse(a.raw)).toEqual({ error: "Converting keyword: 'parameters': parameter 'stop' has invalid type. It should be either 'int', 'bool', or 'string'." });
  }
  expect(maxTokensString.status).toBe(500);
  expect(unary.status).toBe(200);
  expect(JSON.parse(unary.raw)).toHaveProperty('error');
});

test('random_seed out of UINT64 range', async () => {
  const ask = (seed: string) => gen(TRT, `{"text_input":"hello world","parameters":{"stream":true,"max_tokens":2,"random_seed":${seed}}}`);
  const [neg, big, max, frac] = await Promise.all([ask('-1'), ask('18446744073709551616'), ask('18446744073709551615'), ask('4.5')]);
  observed.randomSeed = { negative: brief(neg), twoTo64: brief(big), max: { status: max.status, events: max.events.length }, fractional: brief(frac) };
  for (const a of [neg, big, frac]) {
    expect(a.status).toBe(500);
    expect(a.contentType).toBe('application/json');
    expect(JSON.parse(a.raw)).toEqual({ error: "Converting keyword: 'parameters': Unable to parse 'data': attempt to access JSON non-unsigned-integer as unsigned-integer" });
  }
  expect(max.status).toBe(200);
});

test('errors before the first token and mid-stream', async () => {
  const cases = {
    trtRaises: await gen(TRT, { text_input: '#raise', parameters: { stream: true, max_tokens: 4 } }),
    trtErrorResponse: await gen(TRT, { text_input: '#error', parameters: { stream: true, max_tokens: 4 } }),
    trtContextLimit: await gen(TRT, { text_input: 'hello', parameters: { stream: true, max_tokens: 2000 } }),
    vllmRaises: await gen(VLLM, { text_input: '#raise', parameters: { stream: true } }),
    vllmErrorResponse: await gen(VLLM, { text_input: '#error', parameters: { stream: true } }),
    vllmContextLimit: await gen(VLLM, { text_input: 'hello', parameters: { stream: true, sampling_parameters: '{"max_tokens":2000}' } }),
    trtMidStream: await gen(TRT, { text_input: '#fail-after:2 hello', parameters: { stream: true, max_tokens: 6 } }),
    vllmMidStream: await gen(VLLM, { text_input: '#fail-after:2 hello', parameters: { stream: true } }),
    unaryErrorResponse: await post(`/v2/models/${VLLM}/generate`, { text_input: '#error', parameters: { stream: false } }),
    brokenModel: await gen('broken', { text_input: 'hi' }),
    unknownModel: await gen('nope', { text_input: 'hi' }),
  };
  observed.errors = Object.fromEntries(Object.entries(cases).map(([k, a]) => [k, brief(a)]));
  for (const k of ['trtRaises', 'trtErrorResponse', 'trtContextLimit', 'vllmRaises', 'vllmErrorResponse', 'vllmContextLimit'] as const) {
    const a = cases[k];
    expect(a.status).toBe(400);
    expect(a.contentType).toBe('text/event-stream; charset=utf-8');
    expect(a.raw).toMatch(/^data: \{"error":".*"\}\n\n$/s);
  }
  expect(cases.trtErrorResponse.raw).toBe('data: {"error":"trtllm test model: #error in the prompt"}\n\n');
  for (const a of [cases.trtMidStream, cases.vllmMidStream]) {
    expect(a.status).toBe(200);
    expect(a.events).toHaveLength(3);
    expect(a.events[2]).toEqual({ error: expect.stringContaining('failed after 2 tokens') });
  }
  expect(cases.brokenModel.status).toBe(404);
  expect(cases.unknownModel.status).toBe(404);
});

test('strict readiness with a model that failed to load; repository index; model configs', async () => {
  const status = async (p: string) => (await fetch(`${triton.url}${p}`)).status;
  const ready = {
    live: await status('/v2/health/live'),
    ready: await status('/v2/health/ready'),
    [TRT]: await status(`/v2/models/${TRT}/ready`),
    [VLLM]: await status(`/v2/models/${VLLM}/ready`),
    broken: await status('/v2/models/broken/ready'),
    unknown: await status('/v2/models/nope/ready'),
  };
  const index = await post('/v2/repository/index', {});
  const indexReady = await post('/v2/repository/index', { ready: true });
  interface Config {
    max_batch_size: number;
    model_transaction_policy: unknown;
    input: Array<{ name: string; data_type: string; dims: number[]; optional: boolean }>;
    output: unknown;
  }
  const config = async (m: string) => (await (await fetch(`${triton.url}/v2/models/${m}/config`)).json()) as Config;
  const metadata = async (m: string) => (await (await fetch(`${triton.url}/v2/models/${m}`)).json()) as unknown;
  const [trtConfig, vllmConfig, trtMeta, vllmMeta] = await Promise.all([config(TRT), config(VLLM), metadata(TRT), metadata(VLLM)]);
  const brokenConfig = await fetch(`${triton.url}/v2/models/broken/config`);
  const inputs = (c: Config) =>
    c.input.map((i) => `${i.name}:${i.data_type}[${i.dims}]${i.optional ? '?' : ''}`);
  observed.readiness = ready;
  observed.repositoryIndex = JSON.parse(index.raw);
  observed.repositoryIndexReady = JSON.parse(indexReady.raw);
  observed.config = {
    [TRT]: { max_batch_size: trtConfig.max_batch_size, decoupled: trtConfig.model_transaction_policy, inputs: inputs(trtConfig), output: trtConfig.output },
    [VLLM]: { max_batch_size: vllmConfig.max_batch_size, decoupled: vllmConfig.model_transaction_policy, inputs: inputs(vllmConfig), output: vllmConfig.output },
    brokenStatus: brokenConfig.status,
    brokenBody: await brokenConfig.text(),
  };
  observed.metadata = { [TRT]: trtMeta, [VLLM]: vllmMeta };
  expect(ready).toEqual({ live: 200, ready: 400, [TRT]: 200, [VLLM]: 200, broken: 400, unknown: 400 });
  expect(JSON.parse(index.raw)).toEqual(
    expect.arrayContaining([
      { name: 'broken', version: '1', state: 'UNAVAILABLE', reason: expect.stringContaining('initialize() refuses to load') },
      { name: TRT, version: '1', state: 'READY' },
    ]),
  );
  expect(trtConfig.model_transaction_policy).toEqual({ decoupled: true });
  expect(inputs(trtConfig)).toEqual(expect.arrayContaining(['text_input:TYPE_STRING[1]', 'max_tokens:TYPE_INT32[1]', 'stop_words:TYPE_STRING[-1]?', 'random_seed:TYPE_UINT64[1]?', 'stream:TYPE_BOOL[1]?']));
  expect(inputs(vllmConfig)).toEqual(['text_input:TYPE_STRING[1]', 'stream:TYPE_BOOL[1]?', 'sampling_parameters:TYPE_STRING[1]?', 'exclude_input_in_output:TYPE_BOOL[1]?']);
});


test('non-strict readiness', async () => {
  const lax = await startTriton({ models: [{ name: 'ok', kind: 'trtllm' }, { name: 'broken', kind: 'broken' }], strictReadiness: false });
  try {
    const status = async (p: string) => (await fetch(`${lax.url}${p}`)).status;
    observed.nonStrictReadiness = { ready: await status('/v2/health/ready'), ok: await status('/v2/models/ok/ready'), broken: await status('/v2/models/broken/ready') };
    expect(observed.nonStrictReadiness).toEqual({ ready: 200, ok: 200, broken: 400 });
  } finally {
    await lax.stop();
  }
}, 240_000);
