#!/usr/bin/env bash
# On a GPU host, from the checkout's root, with the bundle that
# scripts/package-gpu-bundle.sh made: runs every GPU check of the suite and
# the Gate 1 report, then prints a short table. Logs go to $OUT (or
# /tmp/gpu-validate).
#   scripts/gpu-validate.sh [--bench SHAPES] [--skip-gate1] [--skip-check] [--skip-itest]
set -u
root=$(pwd)
out=${OUT:-/tmp/gpu-validate}
bench_shapes="" skip_gate1=0 skip_check=0 skip_itest=0
while (($#)); do
  case "$1" in
    --bench) bench_shapes=$2; shift ;;
    --skip-gate1) skip_gate1=1 ;;
    --skip-check) skip_check=1 ;;
    --skip-itest) skip_itest=1 ;;
  esac
  shift
done
mkdir -p "$out"
[[ -f .gpu-carry/bundle.tar.xz ]] && tar -xJf .gpu-carry/bundle.tar.xz
export ORCD_DATA_DIR=$root/testdata
[[ -z "${ORCD_COMMIT:-}" && -f build/commit.txt ]] && export ORCD_COMMIT=$(cat build/commit.txt)
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
# CTest's files name the build machine's paths: make them resolve here.
src_root=$(cat build/source-root.txt 2>/dev/null || echo "$root")
if [[ "$src_root" != "$root" ]]; then
  mkdir -p "$(dirname "$src_root")"
  ln -sfn "$root" "$src_root"
fi

declare -a rows
row() { rows+=("$(printf '| %-34s | %-8s | %s |' "$1" "$2" "$3")"); }
run() {  # name, log, command...
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  "$@" >"$out/$log" 2>&1
  local rc=$?
  local verdict=pass; ((rc == 0)) || verdict="FAIL($rc)"
  row "$name" "$verdict" "$((SECONDS - t0)) s, log $log"
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"

((skip_check)) || OUT="$out" run "gpu-check (kernels, model, VRAM)" gpu-check.log \
  env ORCD_GPU_CTEST=0 scripts/gpu-check.sh build
itest=$(ls build/bin/*integration* 2>/dev/null | head -1)
if [[ -n "$itest" ]] && ((skip_itest == 0)); then
  run "HTTP->C API->CUDA integration" itest-gpu.log env ORCD_ITEST_DEVICE=cuda ORCD_ITEST_GPU=0 \
    "$itest" --gtest_output=xml:"$out/itest-gpu.xml"
fi
# The TinyLlama-shape model gpu-check generated (if it ran) serves the gate too.
tl="${TMPDIR:-/tmp}/orcd-gpu-check/tinyllama-1.1b-f16.gguf"
[[ -z "${ORCD_TINYLLAMA_GGUF:-}" && -s "$tl" ]] && export ORCD_TINYLLAMA_GGUF=$tl
if ((skip_gate1 == 0)); then
  run "Gate 1 report --require-gpu" gate1.log scripts/gate1-report.sh --require-gpu --out "$out"
fi
if [[ -n "$bench_shapes" ]]; then
  run "benchmarks ($bench_shapes)" bench.log scripts/bench.sh --vocab testdata/tokenizer --out "$out/bench" \
    --build build --shapes "$bench_shapes" --type f16 --gpu 0
fi

echo
[[ -f "$out/gpu-check.log" ]] && sed -n '/GPU test summary/,$p' "$out/gpu-check.log"
for f in "$out"/bench/bench-*.md; do [[ -f "$f" ]] && cat "$f"; done
[[ -f "$out/gate1-report.md" ]] && sed -n '/^| #/,/^$/p' "$out/gate1-report.md"
# At most a few files come back from a GPU host: pack the logs into one.
tar -C "$out" -czf /tmp/gpu-validate-logs.tgz --exclude='*.tgz' . && mv /tmp/gpu-validate-logs.tgz "$out/logs.tgz"
echo
printf '| %-34s | %-8s | %s |\n' step result detail
printf '%s\n' "${rows[@]}"
