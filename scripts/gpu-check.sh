#!/usr/bin/env bash
# Runs every GPU test of an already built tree (it never builds) and prints
# a table. Usage:
#   scripts/gpu-check.sh [BUILD_DIR]        (default: build)
# Environment:
#   OUT                    logs go to $OUT/gpu-check (else BUILD_DIR/gpu-check-logs)
#   ORCD_DATA_DIR          the test data folder (default testdata/)
#   ORCD_TINYLLAMA_GGUF    the synthetic TinyLlama-shape F16 model; generated with
#                          bin/worker-orcd-synth into $TMPDIR when unset
#   ORCD_QWEN_Q4KM_GGUF    a Q4_K_M file of the Qwen2.5-0.5B shape for gpu_qwen_shape_test
#                          (made with llama-quantize); without it that test synthesizes
#                          the shape in F16 (1 GB in $TMPDIR, removed afterwards)
#   ORCD_QWEN_GGUF         the real Qwen2.5-0.5B-Instruct Q4_K_M file: its haiku test
#                          runs, else says skipped
#   ORCD_GPU_MEMCHECK=0    skip the compute-sanitizer memcheck runs
#   ORCD_GPU_CTEST=0       skip the second pass through ctest (by label)
# Exit status: 0 when nothing failed, 1 on a failure, 3 when a whole test
# binary skipped (no CUDA device).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
BIN="$BUILD/bin"
LOG=${OUT:+$OUT/gpu-check}
LOG=${LOG:-$BUILD/gpu-check-logs}
mkdir -p "$LOG"
: > "$LOG/stats.txt"

if [ ! -d "$BIN" ]; then echo "gpu-check: no $BIN (build first: this script does not build)" >&2; exit 2; fi

export ORCD_DATA_DIR=${ORCD_DATA_DIR:-$ROOT/testdata}
export ORCD_BIN_DIR=$(cd "$BIN" && pwd)

{
  echo "date: $(date -u +%FT%TZ)"
  # The binaries' commit: a bundle records it (package-gpu-bundle.sh), and a
  # checkout's HEAD may be newer than what was built.
  if [ -f "$BUILD/commit.txt" ]; then
    echo "commit: $(cat "$BUILD/commit.txt") (built), checkout $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  else
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  fi
  echo "data: $ORCD_DATA_DIR"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  else
    echo "gpu: nvidia-smi not found"
  fi
} | tee "$LOG/machine.txt"

if [ -z "${ORCD_TINYLLAMA_GGUF:-}" ] && [ -x "$BIN/worker-orcd-synth" ] ; then
  f="${TMPDIR:-/tmp}/orcd-gpu-check/tinyllama-1.1b-f16.gguf"
  mkdir -p "$(dirname "$f")"
  if [ ! -s "$f" ]; then
    echo "generating $f"
    "$BIN/worker-orcd-synth" -o "$f" --shape tinyllama-1.1b --type f16 --seed 1 \
      --vocab "$ORCD_DATA_DIR/tokenizer/ggml-vocab-llama-spm.gguf" > "$LOG/synth.log" 2>&1 || rm -f "$f"
  fi
  [ -s "$f" ] && export ORCD_TINYLLAMA_GGUF=$f
fi
echo "tinyllama: ${ORCD_TINYLLAMA_GGUF:-not available (its test will say skipped)}"

# The binaries link the CUDA runtime statically but cuBLAS dynamically.
if [ -x "$BIN/gpu_kernels_test" ] && command -v ldd >/dev/null; then
  missing=$(ldd "$BIN/gpu_kernels_test" 2>&1 | grep 'not found')
  [ -n "$missing" ] && echo "gpu-check: shared libraries missing on this host:" && echo "$missing"
fi

ROWS=()
FAILED=0
SKIPPED_ANY=0
# run NAME COMMAND...: one gtest binary, its counts from the summary lines.
run() {
  local name=$1; shift
  local log="$LOG/$name.log" t0=$SECONDS rc
  "$@" > "$log" 2>&1; rc=$?
  local secs=$((SECONDS - t0))
  local passed failed skipped result
  passed=$(grep -c '^\[       OK \]' "$log")
  # per-test result lines end with "(N ms)"; gtest's closing lists do not
  failed=$(grep -cE '^\[  FAILED  \] .* \([0-9]+ ms\)$' "$log")
  skipped=$(grep -cE '^\[  SKIPPED \] .* \([0-9]+ ms\)$' "$log")
  if [ $rc -ne 0 ] || [ "$failed" -gt 0 ]; then result=FAIL; FAILED=1
  elif [ "$passed" -eq 0 ] && [ "$skipped" -gt 0 ]; then result=SKIPPED; SKIPPED_ANY=1
  elif [ "$passed" -eq 0 ]; then result="FAIL(no tests ran, rc=$rc)"; FAILED=1
  else result=pass; fi
  grep '^\[ stats    \]' "$log" | sed "s/^\[ stats    \]/$name:/" >> "$LOG/stats.txt"
  ROWS+=("$(printf '%-34s %-10s %6s %6s %7s %6ss' "$name" "$result" "$passed" "$failed" "$skipped" "$secs")")
  echo "== $name: $result ($passed passed, $failed failed, $skipped skipped, ${secs}s)"
  [ "$result" = pass ] || grep -E '^\[  FAILED  \]|Failure|error|skipped:' "$log" | head -20
}

TESTS=(gpu_kernels_test gpu_sampler_test gpu_model_test gpu_graph_test gpu_vram_test gpu_capi_test gpu_determinism_test gpu_reference_models_test gpu_qwen_shape_test vram_audit_test)
for t in "${TESTS[@]}"; do
  if [ -x "$BIN/$t" ]; then
    run "$t" timeout "${ORCD_GPU_TEST_TIMEOUT:-600}" "$BIN/$t" --gtest_color=no --gtest_output="xml:$LOG/$t.xml"
  else
    ROWS+=("$(printf '%-34s %-10s' "$t" 'not-built')"); FAILED=1
  fi
done

# compute-sanitizer memcheck on the kernel-level GPU tests.
if [ "${ORCD_GPU_MEMCHECK:-1}" != 0 ]; then
  CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
  if [ -n "$CS" ]; then
    for t in gpu_kernels_test gpu_sampler_test; do
      [ -x "$BIN/$t" ] && run "memcheck-$t" "$CS" --tool memcheck --leak-check full --error-exitcode 97 \
        "$BIN/$t" --gtest_color=no --gtest_filter='-CudaSampler.PicksTheCpuTokenOnRandomLogitsAndConfigs'
    done
  else
    ROWS+=("$(printf '%-34s %-10s' 'memcheck' 'not-run (no compute-sanitizer)')")
  fi
fi

# ctest by label, when the build tree still sits where it was configured.
CONF_DIR=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
if [ "${ORCD_GPU_CTEST:-1}" = 0 ]; then
  ROWS+=("$(printf '%-34s %-10s' 'ctest' 'not-run (ORCD_GPU_CTEST=0)')")
elif [ -n "$CONF_DIR" ] && [ "$CONF_DIR" = "$(cd "$BUILD" && pwd)" ]; then
  for label in gpu vram_enforcement determinism; do
    t0=$SECONDS
    ctest --test-dir "$BUILD" -L "^$label\$" --output-on-failure > "$LOG/ctest-$label.log" 2>&1; rc=$?
    summary=$(grep -E 'tests passed' "$LOG/ctest-$label.log" | tail -1)
    n_skip=$(grep -c '(Skipped)' "$LOG/ctest-$label.log")
    if [ $rc -ne 0 ]; then res=FAIL; FAILED=1; elif [ "$n_skip" -gt 0 ]; then res="pass*"; else res=pass; fi
    ROWS+=("$(printf '%-34s %-10s %s; %s skipped (%ss)' "ctest -L $label" "$res" "$summary" "$n_skip" $((SECONDS - t0)))")
  done
else
  ROWS+=("$(printf '%-34s %-10s' 'ctest' "not-run (tree configured at ${CONF_DIR:-?}; binaries ran directly above)")")
fi

echo
echo "---- measurements ----"
cat "$LOG/stats.txt"
echo
echo "---- GPU test summary ($(head -4 "$LOG/machine.txt" | tail -1)) ----"
printf '%-34s %-10s %6s %6s %7s %7s\n' test result passed failed skipped time
for r in "${ROWS[@]}"; do echo "$r"; done
echo "pass* = no failure, but some tests were skipped (see the count); a skip is never a pass"
echo "logs: $LOG"
[ $FAILED -ne 0 ] && exit 1
[ $SKIPPED_ANY -ne 0 ] && { echo "gpu-check: a whole test binary was skipped (no CUDA device?)"; exit 3; }
exit 0
