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

const curlExample = `# One request per line
printf '%s\\n' \\
  '{"custom_id":"q-0","method":"POST","url":"/v1/chat/completions","body":{"model":"lite","max_tokens":64,"messages":[{"role":"user","content":"What is Temporal?"}]}}' \\
  '{"custom_id":"q-1","method":"POST","url":"/v1/chat/completions","body":{"model":"lite","max_tokens":64,"messages":[{"role":"user","content":"Name a prime above 100."}]}}' > questions.jsonl
FILE=$(curl -s https://genie.example/v1/files -H "Authorization: Bearer $GENIE_API_KEY" \\
  -F purpose=batch -F file=@questions.jsonl | jq -r .id)
BATCH=$(curl -s https://genie.example/v1/batches -H "Authorization: Bearer $GENIE_API_KEY" \\
  -H 'content-type: application/json' \\
  -d "{\\"input_file_id\\":\\"$FILE\\",\\"endpoint\\":\\"/v1/chat/completions\\",\\"completion_window\\":\\"24h\\"}" | jq -r .id)
# poll until "status" is completed, then download the output file
curl -s https://genie.example/v1/batches/$BATCH -H "Authorization: Bearer $GENIE_API_KEY" | jq '{status, request_counts}'
OUT=$(curl -s https://genie.example/v1/batches/$BATCH -H "Authorization: Bearer $GENIE_API_KEY" | jq -r .output_file_id)
curl -s https://genie.example/v1/files/$OUT/content -H "Authorization: Bearer $GENIE_API_KEY"`;

const nodeExample = `import OpenAI, { toFile } from 'openai';

const client = new OpenAI({ baseURL: 'https://genie.example/v1', apiKey: process.env.GENIE_API_KEY });
const lines = ['What is Temporal?', 'Name a prime above 100.'].map((q, i) => ({
  custom_id: \`q-\${i}\`, method: 'POST', url: '/v1/chat/completions',
  body: { model: 'lite', max_tokens: 64, messages: [{ role: 'user', content: q }] },
}));
const upload = await client.files.create({ file: await toFile(Buffer.from(lines.map((l) => JSON.stringify(l)).join('\\n')), 'questions.jsonl'), purpose: 'batch' });
let batch = await client.batches.create({ input_file_id: upload.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
while (!['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) {
  await new Promise((r) => setTimeout(r, 5000));
  batch = await client.batches.retrieve(batch.id);
}
for (const line of (await (await client.files.content(batch.output_file_id)).text()).split('\\n').filter(Boolean)) {
  const answer = JSON.parse(line);
  console.log(answer.custom_id, answer.response.body.choices[0].message.content);
}`;

const exampleOutputLine = {
  id: 'batch_req_mh2k3j4l5p9q8r7s6t5u4v3w2xa',
  custom_id: 'q-1',
  response: { status_code: 402, request_id: 'chatcmpl-mh2k3j4l5p9q8r7s6t5u4v3w2xa', body: { code: 'budget-cap-hit', capLayer: 'org', capWindow: 'day', resetsAt: '2026-12-02T00:00:00.000Z', error: { message: 'Budget cap hit: this request would exceed the org day cap, which resets at 2026-12-02T00:00:00.000Z.', type: 'insufficient_quota', param: null, code: 'budget-cap-hit' } } },
  error: null,
};

export const batchSlots = {
  limits: () => inline(`A file holds at most ${formatBytes(MAX_FILE_BYTES)} (a larger upload is a \`413 file_too_large\`) and a batch at most ${MAX_BATCH_LINES.toLocaleString('en')} lines; each line's body is held to the limits of a single request (see Limits).`),
  example: () =>
    [
      codeBlock(esc(curlExample), { label: 'curl: upload, create, poll, download', lang: 'bash' }),
      codeBlock(esc(pythonExample), { label: 'Python — openai: a batch from upload to answers', lang: 'python' }),
      codeBlock(esc(nodeExample), { label: 'Node — openai: the same batch', lang: 'javascript' }),
      jsonBlock(exampleOutputLine, 'A line of the error file: refused by the org day cap'),
    ].join('\n'),
};
