"""The official Python `openai` package against Genie: sync, stream and a tools round trip.

Run by test/e2e/python-sdk.test.ts with GENIE_BASE_URL and GENIE_API_KEY; prints one JSON line.
"""
import json
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["GENIE_BASE_URL"], api_key=os.environ["GENIE_API_KEY"], max_retries=0)
messages = [{"role": "user", "content": "Hello from Python"}]

sync = client.chat.completions.create(model="qwen3:0.6b", messages=messages, seed=5)

streamed = ""
finish = None
for chunk in client.chat.completions.create(model="qwen3:0.6b", messages=messages, seed=5, stream=True):
    if chunk.choices:
        streamed += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish

tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}]
call = client.chat.completions.create(model="qwen3:0.6b", messages=messages, tools=tools)
tool_call = call.choices[0].message.tool_calls[0]
follow = client.chat.completions.create(
    model="qwen3:0.6b",
    tools=tools,
    messages=messages
    + [
        {"role": "assistant", "content": None, "tool_calls": [tool_call.model_dump()]},
        {"role": "tool", "tool_call_id": tool_call.id, "content": "42"},
    ],
)

print(json.dumps({
    "sync": sync.choices[0].message.content,
    "stream": streamed,
    "stream_finish": finish,
    "tool_finish": call.choices[0].finish_reason,
    "tool_name": tool_call.function.name,
    "tool_args": json.loads(tool_call.function.arguments),
    "final": follow.choices[0].message.content,
    "final_finish": follow.choices[0].finish_reason,
}))
