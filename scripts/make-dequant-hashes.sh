#!/usr/bin/env bash
# Regenerates testdata/reference/dequant.json: for each reference file with
# block-format tensors, the sha256 of every tensor as llama.cpp's own
# dequantizer expands it to F32 (`llama-quantize --allow-requantize --pure
# FILE OUT F32`, which runs each format's to-float routine). The CPU
# reference's decoders must give the same bytes
# (tests/unit/test_dequant_oracle.cpp), so "decoded exactly as the format
# defines it" is checked against llama.cpp bit for bit, not only against our
# own reading of the format.
#
#   scripts/make-dequant-hashes.sh LLAMA_CPP_DIR
#
# LLAMA_CPP_DIR holds llama.cpp's CPU build (bin/llama-quantize, lib/).
# Needs build/bin/worker-orcd-synth for the file synthesized at test time
# (gpt-oss-tiny: its MXFP4 experts).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc=${1:?usage: make-dequant-hashes.sh LLAMA_CPP_DIR}
export LD_LIBRARY_PATH="$lc/lib:${LD_LIBRARY_PATH:-}"
ref="$root/testdata/reference"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

# name|file (relative to the checkout; synthesized ones are made first)
files=()
for name in llama-mix-a llama-mix-b llama-q4km qwen2-q4km phi3-q4km; do
  files+=("$name|testdata/reference/$name.gguf")
done
# shellcheck disable=SC2046
"$root/build/bin/worker-orcd-synth" --threads 1 -o "$work/gpt-oss-tiny.gguf" \
  $(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(" ".join(next(e for e in m["models"] if e["name"]=="gpt-oss-tiny")["synth"]))' "$ref/manifest.json") > /dev/null
files+=("gpt-oss-tiny|$work/gpt-oss-tiny.gguf")

for e in "${files[@]}"; do
  IFS='|' read -r name file <<< "$e"
  "$lc/bin/llama-quantize" --allow-requantize --pure "$file" "$work/$name-f32.gguf" F32 1 > "$work/$name.log" 2>&1 ||
    { cat "$work/$name.log" >&2; exit 1; }
  echo "$name|$file|$work/$name-f32.gguf"
done | python3 "$root/scripts/gguf_tensor_hashes.py" > "$ref/dequant.json"
echo "wrote $ref/dequant.json"
