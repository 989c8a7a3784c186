#!/usr/bin/env bash
# Gate 1 report: runs what this machine can run (every CTest test of build/)
# and writes gate1-report.md and gate1-report.json: one row per Gate 1 item,
# pass / fail / not-run, the tests behind it, and the machine.
#
# usage: scripts/gate1-report.sh [--require-gpu] [--build DIR] [--out DIR] [--no-run JUNIT.xml]
#   --require-gpu  also exit non-zero when a GPU item did not run
#   --no-run FILES use existing CTest JUnit files (comma-separated) instead of running ctest
# Exit code: 1 when any item fails (or, with --require-gpu, did not run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build" out="$root" require_gpu=0 junit=""
while (($#)); do
  case "$1" in
    --require-gpu) require_gpu=1 ;;
    --build) build="$2"; shift ;;
    --out) out="$2"; shift ;;
    --no-run) junit="$2"; shift ;;
    *) echo "gate1-report: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[[ -d "$build" ]] || { echo "gate1-report: $build missing: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$out"
if [[ -z "$junit" ]]; then
  # Failures are reported per item below; ctest's own exit status is not the
  # verdict. GPU tests run one at a time: the leak tests read the card's free
  # memory, which parallel tests would disturb.
  ctest --test-dir "$build" -LE gpu --output-junit "$out/gate1-ctest-cpu.xml" --timeout 900 -j"$(nproc)" \
    >"$out/gate1-ctest-cpu.log" 2>&1 || true
  ctest --test-dir "$build" -L gpu --output-junit "$out/gate1-ctest-gpu.xml" --timeout 900 \
    >"$out/gate1-ctest-gpu.log" 2>&1 || true
  junit="$out/gate1-ctest-cpu.xml,$out/gate1-ctest-gpu.xml"
fi
exec python3 "$root/scripts/gate1/report.py" --junit "$junit" --out "$out" --root "$root" \
  --require-gpu "$require_gpu"
