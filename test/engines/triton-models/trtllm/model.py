"""A TensorRT-LLM-shaped decoupled model (see README.md): deterministic words instead of a network."""
import json
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils

VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber cobalt ember frost grove harbor").split()
MASK = (1 << 64) - 1


def fnv1a(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def words(seed):
    state = seed & MASK
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) & MASK
        yield (state >> 33) % len(VOCAB)


def scalar(request, name, default=None):
    t = pb_utils.get_input_tensor_by_name(request, name)
    if t is None:
        return default
    v = t.as_numpy().flatten()
    if v.size == 0:
        return default
    v = v[0]
    return v.decode("utf-8") if isinstance(v, bytes) else v.item()


def strings(request, name):
    t = pb_utils.get_input_tensor_by_name(request, name)
    if t is None:
        return []
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in t.as_numpy().flatten()]


def text_response(text, batched):
    arr = np.array([text.encode("utf-8")], dtype=np.object_)
    return pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("text_output", arr.reshape(1, 1) if batched else arr)])


def error_response(message):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.delay = float(params.get("token_delay_ms") or 0) / 1000.0
        self.limit = int(params.get("context_limit") or 1024)
        # "true": generate inside execute() (the instance serves one request at a time, later ones queue,
        # as a model without its own scheduler); otherwise a thread per request, execute() returns at once
        # (as vllm_backend's asyncio loop and TensorRT-LLM's in-flight batcher do).
        self.inline = params.get("execute_inline", "false").lower() == "true"
        self.batched = config.get("max_batch_size", 0) > 0
        self.max_active = config.get("max_batch_size", 0) or 64
        self.active = 0
        self.lock = threading.Lock()
        self.create_metrics(args["model_name"], args["model_version"])

    def create_metrics(self, model, version):
        # The gauges tensorrtllm_backend's tensorrt_llm model publishes (same families, descriptions and
        # labels), through the Python backend's custom metrics API. Here "active" counts requests that
        # are generating; nothing queues inside the model (a request Triton holds back is in
        # nv_inference_pending_request_count), so "waiting" stays 0. KV cache: one block per active
        # request, a block holding a whole sequence (context_limit tokens).
        self.request_family = pb_utils.MetricFamily(
            name="nv_trt_llm_request_metrics", description="TRT LLM request metrics", kind=pb_utils.MetricFamily.GAUGE)
        self.kv_family = pb_utils.MetricFamily(
            name="nv_trt_llm_kv_cache_block_metrics", description="TRT LLM KV cache block metrics",
            kind=pb_utils.MetricFamily.GAUGE)
        common = {"model": model, "version": version}
        self.gauges = {
            **{t: self.request_family.Metric(labels={"request_type": t, **common})
               for t in ("active", "max", "scheduled", "context", "waiting")},
            **{"kv_" + t: self.kv_family.Metric(labels={"kv_cache_block_type": t, **common})
               for t in ("max", "free", "used", "tokens_per", "fraction")},
        }
        self.gauges["max"].set(self.max_active)
        self.gauges["kv_max"].set(self.max_active)
        self.gauges["kv_tokens_per"].set(self.limit)
        self.publish()

    def publish(self):  # with self.lock held (or before any request)
        g = self.gauges
        if not g:  # finalized
            return
        for t in ("active", "scheduled", "kv_used"):
            g[t].set(self.active)
        g["context"].set(0)
        g["waiting"].set(0)
        g["kv_free"].set(self.max_active - self.active)
        g["kv_fraction"].set(self.active / self.max_active)

    def track(self, delta):
        with self.lock:
            self.active += delta
            self.publish()

    def execute(self, requests):
        for request in requests:
            prompt = scalar(request, "text_input", "")
            max_tokens = scalar(request, "max_tokens")
            if "#raise" in prompt:
                raise pb_utils.TritonModelException("trtllm test model: #raise in the prompt")
            if max_tokens is None:
                # Triton only checks the input count (2 required, 18 in all): text_input + stream passes.
                # The real ensemble then fails in its preprocessing step; so does this model.
                raise pb_utils.TritonModelException("input 'max_tokens' is required (REQUEST_OUTPUT_LEN of preprocessing)")
            if max_tokens < 0:
                raise pb_utils.TritonModelException(f"[TensorRT-LLM][ERROR] maxNewTokens ({max_tokens}) must be >= 0")
            prompt_len = len(prompt.split())
            if prompt_len + max_tokens > self.limit:
                # TensorRT-LLM refuses a request whose input plus output exceeds the engine's max sequence.
                raise pb_utils.TritonModelException(
                    f"[TensorRT-LLM][ERROR] Assertion failed: inputLen ({prompt_len}) + maxNewTokens ({max_tokens}) "
                    f"exceeds maxSequenceLen ({self.limit})")
            self.track(+1)  # generate() takes it back, however the request ends
            if self.inline:
                self.generate(request, prompt, max_tokens)
            else:
                try:
                    threading.Thread(target=self.generate, args=(request, prompt, max_tokens), daemon=True).start()
                except Exception:
                    self.track(-1)
                    raise
        return None

    def generate(self, request, prompt, max_tokens):
        sender = request.get_response_sender()
        final = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
        try:
            if "#params" in prompt:
                sender.send(text_response(request.parameters(), self.batched), flags=final)
                return
            if "#error" in prompt:
                sender.send(error_response("trtllm test model: #error in the prompt"), flags=final)
                return
            fail_after = None
            for part in prompt.split():
                if part.startswith("#fail-after:"):
                    fail_after = int(part.split(":", 1)[1])
            stream = bool(scalar(request, "stream", False))
            seed = fnv1a(prompt) ^ int(scalar(request, "random_seed", 0) or 0)
            stops = set(strings(request, "stop_words"))
            bad = set(strings(request, "bad_words"))
            end_id = scalar(request, "end_id")
            out = []
            for idx in words(seed):
                if len(out) >= max_tokens:
                    break
                if sender.is_cancelled():
                    pb_utils.Logger.log_info(f"trtllm test model: request cancelled after {len(out)} tokens")
                    return
                word = VOCAB[idx]
                if word in bad:
                    continue
                if end_id is not None and idx == end_id:
                    break
                if fail_after is not None and len(out) >= fail_after:
                    sender.send(error_response(f"trtllm test model: failed after {len(out)} tokens"), flags=final)
                    return
                if self.delay:
                    time.sleep(self.delay)
                out.append(" " + word)
                if stream:
                    sender.send(text_response(out[-1], self.batched))
                if word in stops:  # TensorRT-LLM keeps the stop word in the output
                    break
            if stream:
                sender.send(flags=final)  # the ensemble ends its stream with a flag-only response
            else:
                sender.send(text_response("".join(out), self.batched), flags=final)
        except Exception as e:  # never leave a request without its FINAL flag
            try:
                sender.send(error_response(f"trtllm test model: {e}"), flags=final)
            except Exception:
                pass
        finally:
            self.track(-1)

    def finalize(self):
        # A MetricFamily must outlive its Metrics.
        self.gauges = {}
        self.request_family = self.kv_family = None
