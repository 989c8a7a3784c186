#!/usr/bin/env bash
# Runs the whole test suite: every CTest test of build/ (unit, integration
# with the HTTP mutation run and the one-minute load test; GPU tests report
# "skipped: no CUDA device" where there is none), the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the GGUF, HTTP and
# tokenizer fuzzers for a bounded time each. Run scripts/setup.sh first.
#
# The last lines name what failed: the failing CTest tests of each stage
# and, for a fuzzer, the end of its log (the crash report and the
# reproducer's path), so that a log cut to its tail still says what broke.
# Each fuzzer's full output goes to build-fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
[[ -d build ]] || { echo "test: build/ is missing: run scripts/setup.sh first" >&2; exit 2; }
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

failed=()     # one line per failed stage, printed again at the end
step() { echo; echo "=== $* ==="; }

# ctest_stage NAME DIR ARGS...: runs CTest; on failure records the names of
# the failing tests (CTest keeps them in LastTestsFailed.log).
ctest_stage() {
  local name=$1 dir=$2; shift 2
  local list="$dir/Testing/Temporary/LastTestsFailed.log" names=""
  rm -f "$list"  # a list left by an earlier run must not be reported
  if ! ctest --test-dir "$dir" --output-on-failure "$@"; then
    if [[ -f $list ]]; then
      names="$(wc -l <"$list") failed: $(cut -d: -f2- "$list" | head -n 20 | sed 's/  # GetParam.*//' | paste -sd' ' -)"
    fi
    failed+=("$name: ${names:-see its output above}")
  fi
}

# fuzz_stage TARGET SECONDS: runs one fuzzer with its output in a log; on
# failure records the log's end (the sanitizer report names the input).
fuzz_stage() {
  local target=$1 seconds=$2 log=build-fuzz/logs/$1.log
  mkdir -p build-fuzz/logs
  if scripts/run-fuzz.sh "$seconds" "$target" >"$log" 2>&1; then
    grep -E '^(Done [0-9]+ runs|run-fuzz:)' "$log" || true
  else
    tail -n 60 "$log"
    failed+=("fuzz $target: $(grep -m1 -E 'ERROR: |==[0-9]+==|Test unit written to' "$log" || echo "exit status non-zero, see $log")")
  fi
}

step "build (incremental)"
cmake --build --preset default -j"$jobs"

step "ctest: build/"
ctest_stage "ctest build/" build -j"$jobs" --timeout 600

step "ASan + UBSan: unit tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest_stage "ctest build-asan/ (unit)" build-asan -L unit -j"$jobs" --timeout 900

step "fuzz: GGUF reader (${ORCD_FUZZ_SECONDS:-60} s)"
fuzz_stage gguf "${ORCD_FUZZ_SECONDS:-60}"

step "fuzz: HTTP parser, router, validators and answers (${ORCD_HTTP_FUZZ_SECONDS:-60} s)"
fuzz_stage http "${ORCD_HTTP_FUZZ_SECONDS:-60}"

step "fuzz: tokenizers (${ORCD_TOKENIZER_FUZZ_SECONDS:-30} s)"
fuzz_stage tokenizer "${ORCD_TOKENIZER_FUZZ_SECONDS:-30}"

echo
if ((${#failed[@]} == 0)); then
  echo "test: all suites passed"
  exit 0
fi
echo "test: FAILURES (${#failed[@]} stage(s)):"
printf '  - %s\n' "${failed[@]}"
exit 1
