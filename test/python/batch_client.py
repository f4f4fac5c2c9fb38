"""The official Python `openai` package against Genie's Batch API: upload, create, poll, download.

Run by test/e2e/python-sdk.test.ts with GENIE_BASE_URL and GENIE_API_KEY; prints one JSON line.
"""
import io
import json
import os
import time

from openai import OpenAI

client = OpenAI(base_url=os.environ["GENIE_BASE_URL"], api_key=os.environ["GENIE_API_KEY"], max_retries=0)
lines = [
    {"custom_id": f"py-{i}", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "qwen3:0.6b", "seed": i, "max_tokens": 8, "messages": [{"role": "user", "content": f"python line {i}"}]}}
    for i in range(5)
]
lines.append({"custom_id": "py-broken", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "broken:latest", "messages": [{"role": "user", "content": "x"}]}})
data = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()

uploaded = client.files.create(file=("input.jsonl", io.BytesIO(data)), purpose="batch")
batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h", metadata={"sdk": "python"})
deadline = time.time() + 60
while batch.status not in ("completed", "failed", "expired", "cancelled") and time.time() < deadline:
    time.sleep(0.25)
    batch = client.batches.retrieve(batch.id)


def read(file_id):
    return [json.loads(l) for l in client.files.content(file_id).text.splitlines() if l] if file_id else []


output = read(batch.output_file_id)
errors = read(batch.error_file_id)
print(json.dumps({
    "status": batch.status,
    "counts": batch.request_counts.model_dump(),
    "metadata": batch.metadata,
    "output_ids": [l["custom_id"] for l in output],
    "output_status": [l["response"]["status_code"] for l in output],
    "output_contents": [l["response"]["body"]["choices"][0]["message"]["content"] for l in output],
    "error_ids": [l["custom_id"] for l in errors],
    "error_status": [l["response"]["status_code"] for l in errors],
    "listed": any(b.id == batch.id for b in client.batches.list(limit=5)),
    "file": client.files.retrieve(uploaded.id).purpose,
}))
