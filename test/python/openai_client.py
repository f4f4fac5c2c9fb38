"""The official Python `openai` package against Genie: sync, stream and a tools round trip.

Run by test/e2e/python-sdk.test.ts (the simulator) and test/engines/real-engines.test.ts (a real vLLM)
with GENIE_BASE_URL and GENIE_API_KEY, and GENIE_MODEL (default qwen3:0.6b); prints one JSON line. On a
real engine (GENIE_REAL_ENGINE=1) the tool is strict and required, and outputs are bounded: random
weights only produce a call when decoding is constrained.
"""
import json
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["GENIE_BASE_URL"], api_key=os.environ["GENIE_API_KEY"], max_retries=0)
model = os.environ.get("GENIE_MODEL", "qwen3:0.6b")
real = os.environ.get("GENIE_REAL_ENGINE") == "1"
bounded = {"max_tokens": 16} if real else {}
messages = [{"role": "user", "content": "Hello from Python"}]

sync = client.chat.completions.create(model=model, messages=messages, seed=5, **bounded)

streamed = ""
finish = None
for chunk in client.chat.completions.create(model=model, messages=messages, seed=5, stream=True, **bounded):
    if chunk.choices:
        streamed += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish

parameters = {"type": "object", "properties": {"q": {"type": "string", "enum": ["a", "b"]} if real else {"type": "string"}}, "required": ["q"]}
if real:
    parameters["additionalProperties"] = False
tools = [{"type": "function", "function": {"name": "lookup", "parameters": parameters, **({"strict": True} if real else {})}}]
forced = {"tool_choice": "required", "parallel_tool_calls": False, "max_tokens": 200, "temperature": 0} if real else {}
call = client.chat.completions.create(model=model, messages=messages, tools=tools, **forced)
tool_call = call.choices[0].message.tool_calls[0]
follow = client.chat.completions.create(
    model=model,
    tools=tools,
    **bounded,
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
