import { MAX_BATCH_LINES, MAX_FILE_BYTES } from '../../protocol/files.js';
import { formatBytes } from '../../protocol/request-limits.js';
import { codeBlock, esc, inline, jsonBlock } from './html.js';

// The Batch API section's generated parts: its limits from the constants the API enforces, and a worked example.

const pythonExample = `from openai import OpenAI
import io, json, time

client = OpenAI(base_url="https://genie.example/v1", api_key="sk-genie-…")
lines = [{"custom_id": f"q-{i}", "method": "POST", "url": "/v1/chat/completions",
          "body": {"model": "lite", "max_tokens": 64, "messages": [{"role": "user", "content": q}]}}
         for i, q in enumerate(["What is Temporal?", "Name a prime above 100."])]
upload = client.files.create(file=("questions.jsonl", io.BytesIO("\\n".join(map(json.dumps, lines)).encode())), purpose="batch")
batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h",
                              extra_body={"webhook": {"url": "https://example.com/hook", "secret": "whsec_…"}})
while batch.status not in ("completed", "failed", "expired", "cancelled"):
    time.sleep(5)
    batch = client.batches.retrieve(batch.id)
for line in client.files.content(batch.output_file_id).text.splitlines():
    answer = json.loads(line)
    print(answer["custom_id"], answer["response"]["body"]["choices"][0]["message"]["content"])`;

const exampleOutputLine = {
  id: 'batch_req_mh2k3j4l5p9q8r7s6t5u4v3w2xa',
  custom_id: 'q-1',
  response: { status_code: 402, request_id: 'chatcmpl-mh2k3j4l5p9q8r7s6t5u4v3w2xa', body: { code: 'budget-cap-hit', capLayer: 'org', capWindow: 'day', resetsAt: '2026-12-02T00:00:00.000Z', error: { message: 'Budget cap hit: this request would exceed the org day cap, which resets at 2026-12-02T00:00:00.000Z.', type: 'insufficient_quota', param: null, code: 'budget-cap-hit' } } },
  error: null,
};

export const batchSlots = {
  limits: () => inline(`A file holds at most ${formatBytes(MAX_FILE_BYTES)} (a larger upload is a \`413 file_too_large\`) and a batch at most ${MAX_BATCH_LINES.toLocaleString('en')} lines; each line's body is held to the limits of a single request (see Limits).`),
  example: () =>
    [codeBlock(esc(pythonExample), { label: 'Python — openai: a batch from upload to answers', lang: 'python' }), jsonBlock(exampleOutputLine, 'A line of the error file: refused by the org day cap')].join('\n'),
};
