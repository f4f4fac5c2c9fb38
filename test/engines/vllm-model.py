#!/usr/bin/env python3
"""Writes a tiny random-weight Qwen2 model folder for the vLLM conformance harness.

    python test/engines/vllm-model.py <out_dir>

The folder holds config.json, generation_config.json, tokenizer.json and tokenizer_config.json (with a
Qwen2.5-style ChatML chat template that renders tools and tool calls the way Qwen does, so vLLM's
`--tool-call-parser hermes` works). There are no weights: vLLM runs it with `--load-format dummy`.
Nothing is downloaded; the byte-level BPE tokenizer is trained here, with the `tokenizers` package, on
English text this script makes itself. The output is the same on every run, and it takes a second or two.
Run it with the vLLM environment's python (it has `tokenizers`).
"""

import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

MAX_POSITION_EMBEDDINGS = 1024
VOCAB_TARGET = 2000

# Special tokens first, so their ids are the same on every run: ChatML's, then the Hermes/Qwen tool-call
# tags (added but not "special", as in Qwen2.5, so they survive detokenisation).
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TOOL_TOKENS = ["<tool_call>", "</tool_call>"]

# Qwen2.5-Instruct's chat template, with its default system prompt changed.
CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are a tiny test model. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are a tiny test model. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}
"""

PARAGRAPHS = [
    "The weather today is mild, with a light wind from the west and a few clouds over the hills. "
    "In the afternoon the sun will come out, and the temperature will rise to about twenty degrees.",
    "A gateway receives requests from many clients, checks each one, and sends it on to the model that "
    "can answer it. When a model is busy, the request waits in a queue until there is room for it.",
    "Say hi to the people you meet on the road. Ask them how they are, listen to what they say, and "
    "thank them for their time before you walk on to the next town.",
    "The function returns a JSON object with the name of the city, the unit of the temperature, and the "
    "value itself. If the unit is missing, the caller should ask the user which unit they prefer.",
    "Tokens are small pieces of text. A model reads a prompt as a list of tokens, and writes its answer "
    "one token at a time, until it reaches a stop token or the maximum number of tokens.",
    "You are a helpful assistant. Answer the question briefly and clearly, and call a tool when the "
    "answer needs information that you do not have.",
]

WORDS = (
    "the a an and or but if then when while because so of to in on at by for with from about into over "
    "after before under between through during without within along across behind beyond is are was were "
    "be been being have has had do does did will would can could should may might must shall time year "
    "people way day man woman child world life hand part place case week company system program question "
    "work government number night point home water room mother area money story fact month lot right study "
    "book eye job word business issue side kind head house service friend father power hour game line end "
    "member law car city community name president team minute idea kid body information back parent face "
    "others level office door health person art war history party result change morning reason research "
    "girl guy moment air teacher force education weather temperature unit celsius fahrenheit cold warm hot "
    "rain snow wind cloud sun sky storm request response model server client token stream tool call function "
    "argument value string object array number boolean null true false json schema enum property required "
    "good new first last long great little own other old big high different small large next early young "
    "important few public bad same able hello hi thanks please yes no maybe today tomorrow yesterday now "
    "say tell ask give take make know think see come want look use find go get put keep let begin seem help "
    "show hear play run move live believe hold bring happen write provide sit stand lose pay meet include "
    "continue set learn lead understand watch follow stop create speak read allow add spend grow open walk "
    "win offer remember love consider appear buy wait serve die send expect build stay fall cut reach kill"
).split()


def corpus():
    """English-looking text: the paragraphs above, then sentences drawn from WORDS with a fixed seed."""
    rng = random.Random(1234)
    yield from PARAGRAPHS
    for _ in range(3000):
        n = rng.randint(5, 16)
        sentence = " ".join(rng.choice(WORDS) for _ in range(n))
        yield sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ".", "?", "!", ","])
    for _ in range(300):
        yield json.dumps({rng.choice(WORDS): rng.choice(WORDS), "unit": rng.choice(["c", "f"]), "value": rng.randint(0, 100)})
    for i in range(1000):
        yield f"{i} {i * 7 % 1000} {i * 13 % 100}"


def build_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_TARGET,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TOKENS])
    return tok


def main():
    if len(sys.argv) != 2:
        print("usage: vllm-model.py <out_dir>", file=sys.stderr)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    tok = build_tokenizer()
    tok.save(os.path.join(out, "tokenizer.json"))
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS + TOOL_TOKENS}

    added_tokens_decoder = {
        str(ids[t]): {
            "content": t,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": t in SPECIAL_TOKENS,
        }
        for t in SPECIAL_TOKENS + TOOL_TOKENS
    }
    tokenizer_config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "added_tokens_decoder": added_tokens_decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>",
        "unk_token": None,
        "add_bos_token": False,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,
        "errors": "replace",
        "model_max_length": MAX_POSITION_EMBEDDINGS,
        "split_special_tokens": False,
        "chat_template": CHAT_TEMPLATE,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}, f, indent=2)

    # Qwen2 with head_dim 32 (vLLM's CPU attention supports head sizes of 32 and up).
    config = {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "hidden_size": 128,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "max_position_embeddings": MAX_POSITION_EMBEDDINGS,
        "max_window_layers": 2,
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "sliding_window": None,
        "use_sliding_window": False,
        "tie_word_embeddings": True,
        "vocab_size": vocab_size,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
        "initializer_range": 0.02,
        "attention_dropout": 0.0,
        "use_cache": True,
        "torch_dtype": "float32",
        "dtype": "float32",
        "transformers_version": "4.57.0",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)

    generation_config = {
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
        "pad_token_id": ids["<|endoftext|>"],
        "transformers_version": "4.57.0",
    }
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(generation_config, f, indent=2)

    print(json.dumps({"dir": out, "vocab_size": vocab_size, "tokens": ids}))


if __name__ == "__main__":
    main()
