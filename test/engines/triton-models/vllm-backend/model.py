"""A vllm_backend-shaped decoupled model (see README.md): deterministic words instead of a network."""
import json
import threading
import time

import numpy as np
import triton_python_backend_utils as pb_utils

VOCAB = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber cobalt ember frost grove harbor").split()
MASK = (1 << 64) - 1
# vLLM's SamplingParams fields a text client sends; anything else is a TypeError there as here.
SAMPLING_KEYS = {"n", "best_of", "presence_penalty", "frequency_penalty", "repetition_penalty", "temperature",
                 "top_p", "top_k", "min_p", "seed", "stop", "stop_token_ids", "ignore_eos", "max_tokens",
                 "min_tokens", "logprobs", "skip_special_tokens", "include_stop_str_in_output"}


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


def text_response(text):
    return pb_utils.InferenceResponse(
        output_tensors=[pb_utils.Tensor("text_output", np.array([text.encode("utf-8")], dtype=np.object_))])


def error_response(message):
    return pb_utils.InferenceResponse(error=pb_utils.TritonError(message))


def sampling_params(text):
    # As vllm_backend's get_sampling_params_dict: JSON, a few keys coerced, then SamplingParams(**params).
    params = json.loads(text) if text else {}
    for k in ("max_tokens", "min_tokens", "n", "best_of", "top_k"):
        if k in params:
            params[k] = int(params[k])
    for k in ("temperature", "top_p", "presence_penalty", "frequency_penalty"):
        if k in params:
            params[k] = float(params[k])
    unknown = sorted(set(params) - SAMPLING_KEYS)
    if unknown:
        raise TypeError(f"SamplingParams.__init__() got an unexpected keyword argument '{unknown[0]}'")
    stop = params.get("stop") or []
    params["stop"] = [stop] if isinstance(stop, str) else list(stop)
    params.setdefault("max_tokens", 16)  # vLLM's default
    if params["max_tokens"] < 1:
        raise ValueError(f"max_tokens must be at least 1, got {params['max_tokens']}.")
    return params


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

    def execute(self, requests):
        for request in requests:
            if "#raise" in (scalar(request, "text_input", "") or ""):
                raise pb_utils.TritonModelException("vllm test model: #raise in the prompt")
            if self.inline:
                self.generate(request)
            else:
                threading.Thread(target=self.generate, args=(request,), daemon=True).start()
        return None

    def generate(self, request):
        sender = request.get_response_sender()
        final = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
        try:
            prompt = scalar(request, "text_input", "")
            if "#params" in prompt:
                sender.send(text_response(request.parameters()), flags=final)
                return
            if "#error" in prompt:
                sender.send(error_response("vllm test model: #error in the prompt"), flags=final)
                return
            sp = sampling_params(scalar(request, "sampling_parameters"))
            stream = bool(scalar(request, "stream", False))
            prepend = not stream and not bool(scalar(request, "exclude_input_in_output", False))
            max_tokens = sp["max_tokens"]
            prompt_len = len(prompt.split())
            if prompt_len + max_tokens > self.limit:
                raise ValueError(
                    f"This model's maximum context length is {self.limit} tokens. However, you requested "
                    f"{prompt_len + max_tokens} tokens ({prompt_len} in the messages, {max_tokens} in the completion).")
            fail_after = None
            for part in prompt.split():
                if part.startswith("#fail-after:"):
                    fail_after = int(part.split(":", 1)[1])
            seed = fnv1a(prompt) ^ int(sp.get("seed") or 0)
            stops = set(sp["stop"])
            out = []
            for idx in words(seed):
                if len(out) >= max_tokens:
                    break
                if sender.is_cancelled():
                    pb_utils.Logger.log_info(f"vllm test model: request cancelled after {len(out)} tokens")
                    return
                word = VOCAB[idx]
                if word in stops:  # vLLM drops the stop string from the output
                    break
                if fail_after is not None and len(out) >= fail_after:
                    sender.send(error_response(f"vllm test model: failed after {len(out)} tokens"), flags=final)
                    return
                if self.delay:
                    time.sleep(self.delay)
                out.append(" " + word)
                if stream:
                    # vLLM sends the token that finishes the request together with FINAL
                    sender.send(text_response(out[-1]), flags=final if len(out) >= max_tokens else 0)
            if stream:
                if len(out) < max_tokens:  # stopped by a stop string: an empty delta carries FINAL
                    sender.send(text_response(""), flags=final)
            else:
                sender.send(text_response((prompt if prepend else "") + "".join(out)), flags=final)
        except Exception as e:  # vllm_backend answers an exception as an error response with FINAL
            try:
                sender.send(error_response(f"Error generating stream: {e}"), flags=final)
            except Exception:
                pass

    def finalize(self):
        pass
