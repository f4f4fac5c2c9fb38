"""schemathesis hooks for test/api/openapi-fuzz.test.ts: what keeps the fuzz from reaching past its target.

- The API contacts URLs it is given: a webhook target (async mode) and a node registered through
  POST /admin/v1/nodes. Generated URLs name arbitrary hosts, so each is pointed at loopback before the
  request leaves (webhooks at the test's receiver, nodes at a closed port): the API never resolves or
  calls anything off this machine. (The webhook guard would not stop it: it refuses private and
  loopback targets, while public hosts are exactly what it lets through.)
- schemathesis feeds values it saw in earlier answers into later requests. Node ids and names, model
  names and API key ids name shared state (the fleet the fuzzed API serves from; prices of real models
  that budget tests compute with; the keys every other test calls with — GET /admin/v1/keys and
  /v1/me hand their ids out), so they get a prefix no real one has: the routes still run their
  validation and lookups, and answer 404, register a node nobody routes to or price a model nobody uses.
- Generated Idempotency-Keys repeat ("0", "00"…) with different bodies, which is a 409 by contract and
  would stop most completions short of inference: each key gets a suffix of its own test case.
- The test stack's simulator serves `broken:latest`, which always fails to load: its
  `500 model failed to load` is the contract (DESIGN §3a), not a bug, so the fuzz asks another model.
"""

import os
import uuid

import schemathesis

WEBHOOK_URL = os.environ["GENIE_FUZZ_WEBHOOK_URL"]
NODE_URL = os.environ["GENIE_FUZZ_NODE_URL"]
FAILS_BY_DESIGN = {"broken:latest"}
PREFIXED = {
    ("/admin/v1/nodes/{id}", "id"),
    ("/admin/v1/prices/{model}", "model"),
    ("/admin/v1/keys/{keyId}/revoke", "keyId"),
    ("/admin/v1/keys/{keyId}/rotate", "keyId"),
}


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    for template, name in PREFIXED:
        if path == template and isinstance(case.path_parameters, dict) and name in case.path_parameters:
            case.path_parameters = {**case.path_parameters, name: f"fuzz-{case.path_parameters[name]}"}
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str):
        case.headers = {**case.headers, "Idempotency-Key": f"{key}-{uuid.uuid4().hex[:12]}"}
    body = case.body
    if not isinstance(body, dict):
        return
    if path == "/v1/chat/completions" and isinstance(body.get("model"), str) and body["model"] in FAILS_BY_DESIGN:
        body = case.body = {**body, "model": "qwen3:0.6b"}
    webhook = body.get("webhook")
    if isinstance(webhook, dict) and "url" in webhook:
        case.body = {**body, "webhook": {**webhook, "url": WEBHOOK_URL}}
    elif path == "/admin/v1/nodes":
        # A known name would re-point that node (POST upserts by name): fuzzed nodes get names of their own.
        name = body.get("name")
        case.body = {**body, **({"url": NODE_URL} if "url" in body else {}), **({"name": f"fuzz-{name}"} if isinstance(name, str) else {})}
