#!/usr/bin/env bash
# Runs the whole test suite: every CTest test of build/ (unit, integration
# with the HTTP mutation run and the one-minute load test; GPU tests report
# "skipped: no CUDA device" where there is none), the unit tests again under
# AddressSanitizer + UndefinedBehaviorSanitizer, and the GGUF, HTTP and
# tokenizer fuzzers for a bounded time each. Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
[[ -d build ]] || { echo "test: build/ is missing: run scripts/setup.sh first" >&2; exit 2; }
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

status=0
step() { echo; echo "=== $* ==="; }

step "build (incremental)"
cmake --build --preset default -j"$jobs"

step "ctest: build/"
ctest --test-dir build --output-on-failure -j"$jobs" --timeout 600 || status=1

step "ASan + UBSan: unit tests"
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan -L unit --output-on-failure -j"$jobs" --timeout 900 || status=1

step "fuzz: GGUF reader (${ORCD_FUZZ_SECONDS:-60} s)"
scripts/run-fuzz.sh "${ORCD_FUZZ_SECONDS:-60}" gguf || status=1

step "fuzz: HTTP parser, router, validators and answers (${ORCD_HTTP_FUZZ_SECONDS:-60} s)"
scripts/run-fuzz.sh "${ORCD_HTTP_FUZZ_SECONDS:-60}" http || status=1

step "fuzz: tokenizers (${ORCD_TOKENIZER_FUZZ_SECONDS:-30} s)"
scripts/run-fuzz.sh "${ORCD_TOKENIZER_FUZZ_SECONDS:-30}" tokenizer || status=1

echo
if ((status == 0)); then echo "test: all suites passed"; else echo "test: FAILURES above"; fi
exit $status
