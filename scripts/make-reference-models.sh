#!/usr/bin/env bash
# Regenerates testdata/reference/: small models of every architecture and
# weight format with llama.cpp's greedy generations on the very same files
# (the oracle of tests/unit/test_reference_models.cpp and the GPU suite).
#
#   scripts/make-reference-models.sh LLAMA_CPP_DIR
#
# LLAMA_CPP_DIR holds llama.cpp's CPU build (bin/llama-quantize,
# bin/llama-golden, lib/). Needs build/bin/worker-orcd-synth. Writes:
#   - files llama.cpp's quantizer makes (committed: they cannot be remade
#     without llama.cpp): mixed-format llama files covering every block
#     format, and Q4_K_M files of the qwen2, phi3 and llama shapes;
#   - goldens (llama-golden generate --cpu) for those and for the files the
#     synthesizer makes at test time (recorded with their sha256);
#   - manifest.json with the bounds (see testdata/reference/README.md);
#   - dequant.json, llama.cpp's F32 expansion of every block-format tensor
#     as sha256 (scripts/make-dequant-hashes.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc=${1:?usage: make-reference-models.sh LLAMA_CPP_DIR}
export LD_LIBRARY_PATH="$lc/lib:${LD_LIBRARY_PATH:-}"
synth="$root/build/bin/worker-orcd-synth"
out="$root/testdata/reference"
vocab="testdata/models/stories260K.gguf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cd "$root"

prompts="$out/prompts.txt"
n_gen=32

# name|synthesizer arguments (the vocabulary path relative to the checkout)
synthesized=(
  "llama-f16|--arch llama --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 3 --type f16"
  "qwen2-f16|--arch qwen2 --dim 256 --layers 2 --heads 4 --kv-heads 2 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 3 --type f16"
  "phi3-f16|--arch phi3 --dim 256 --layers 2 --heads 4 --kv-heads 4 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 3 --type f16"
  "gpt2-f32|--arch gpt2 --dim 256 --layers 2 --heads 4 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 3 --type f32"
  "gpt-oss-tiny|--shape gpt-oss-tiny --vocab $vocab --sigma 0.25 --seed 3 --type f16"
)
# name|base synthesizer arguments|llama-quantize arguments
quantized=(
  "llama-mix-a|--arch llama --dim 256 --layers 1 --heads 4 --kv-heads 2 --ffn 256 --ctx 256 --vocab $vocab --sigma 0.25 --seed 5 --type f16|--token-embedding-type q4_0 --tensor-type attn_q=q4_1 --tensor-type attn_k=q5_0 --tensor-type attn_v=q5_1 --tensor-type attn_output=q8_0 --tensor-type ffn_gate=q2_k --tensor-type ffn_up=q3_k --tensor-type ffn_down=q4_k --output-tensor-type q5_k|Q4_K_M"
  "llama-mix-b|--arch llama --dim 256 --layers 1 --heads 4 --kv-heads 2 --ffn 256 --ctx 256 --vocab $vocab --sigma 0.25 --seed 6 --type f16|--token-embedding-type q6_k --tensor-type attn_q=iq4_nl --tensor-type attn_k=iq4_xs --tensor-type attn_v=bf16 --tensor-type attn_output=q6_k --tensor-type ffn_gate=iq4_xs --tensor-type ffn_up=iq4_nl --tensor-type ffn_down=q6_k --output-tensor-type bf16|Q4_K_M"
  "llama-q4km|--arch llama --dim 256 --layers 1 --heads 4 --kv-heads 2 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 7 --type f16||Q4_K_M"
  "qwen2-q4km|--arch qwen2 --dim 288 --layers 1 --heads 4 --kv-heads 2 --ffn 576 --ctx 256 --vocab $vocab --sigma 0.25 --seed 8 --type f16||Q4_K_M"
  "phi3-q4km|--arch phi3 --dim 256 --layers 1 --heads 4 --kv-heads 4 --ffn 512 --ctx 256 --vocab $vocab --sigma 0.25 --seed 9 --type f16||Q4_K_M"
)

golden() {  # model, name
  "$lc/bin/llama-golden" generate "$1" "$prompts" "$n_gen" --cpu --f32-kv > "$out/$2.golden.jsonl" 2> "$work/$2.log" ||
    { cat "$work/$2.log" >&2; exit 1; }
}

entries=()
for e in "${synthesized[@]}"; do
  IFS='|' read -r name args <<< "$e"
  # shellcheck disable=SC2086
  "$synth" --threads 1 -o "$work/$name.gguf" $args > /dev/null
  golden "$work/$name.gguf" "$name"
  sum=$(sha256sum "$work/$name.gguf" | cut -c1-64)
  json_args=$(printf '%s\n' $args | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')
  entries+=("{\"name\": \"$name\", \"synth\": $json_args, \"sha256\": \"$sum\", \"golden\": \"reference/$name.golden.jsonl\"}")
done
for e in "${quantized[@]}"; do
  IFS='|' read -r name args qargs ftype <<< "$e"
  # shellcheck disable=SC2086
  "$synth" --threads 1 -o "$work/$name-f16.gguf" $args > /dev/null
  # shellcheck disable=SC2086
  "$lc/bin/llama-quantize" $qargs "$work/$name-f16.gguf" "$out/$name.gguf" "$ftype" 1 > "$work/$name.q.log" 2>&1 ||
    { cat "$work/$name.q.log" >&2; exit 1; }
  golden "$out/$name.gguf" "$name"
  entries+=("{\"name\": \"$name\", \"file\": \"reference/$name.gguf\", \"golden\": \"reference/$name.golden.jsonl\"}")
done
# Bounds: measure with open bounds, then record per model twice the worst
# first-step logit difference as the first-step tolerance, and as the margin
# bound 1.5 times the worst teacher-forced margin shortfall (the reference's
# top-1 margin minus ours for its token) or twice the logit tolerance,
# whichever is larger: where the reference's margin is below it, the two
# implementations' roundings may pick different tokens.
printf '%s\n' "${entries[@]}" | python3 -c '
import json, sys
es = [json.loads(l) for l in sys.stdin]
for e in es: e["logit_tol"] = e["margin_bound"] = 100.0
json.dump({"models": es}, open(sys.argv[1], "w"), indent=1)' "$out/manifest.json"
"$root/build/bin/test_reference_models" > "$work/measure.log" 2>&1 || true
python3 - "$out/manifest.json" "$work/measure.log" <<'PY'
import json, math, re, sys
worst = {}
for line in open(sys.argv[2], errors="replace"):
    m = re.search(r"\] (\S+): .* worst first-step logit difference ([0-9.e+-]+) .*worst margin shortfall ([0-9.e+-]+)", line)
    if m: worst[m.group(1)] = (float(m.group(2)), float(m.group(3)))
m = json.load(open(sys.argv[1]))
def tidy(x):
    e = 10 ** math.floor(math.log10(x)); return round(math.ceil(x / e * 10) / 10 * e, 6)
for e in m["models"]:
    w, short = worst[e["name"]]
    e["logit_tol"] = tidy(2 * max(w, 1e-3))
    e["margin_bound"] = tidy(max(1.5 * short, 2 * e["logit_tol"]))
    e["note"] = "when made: first-step difference %.3g, margin shortfall %.3g" % (w, short)
m = {"about": "Reference models and their bounds; testdata/reference/README.md says how they are made "
              "and why the bounds are what they are.", "models": m["models"]}
json.dump(m, open(sys.argv[1], "w"), indent=1)
PY
"$root/scripts/make-dequant-hashes.sh" "$lc"
echo "wrote $out (manifest.json with measured bounds, dequant.json)"
