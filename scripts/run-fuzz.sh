#!/usr/bin/env bash
# Builds the `fuzz` preset and runs the GGUF reader fuzzer for a bounded time.
# Exits non-zero when the fuzzer finds a crash, a sanitizer report, a timeout
# or an out-of-memory input; the reproducer is left in build-fuzz/fuzz/artifacts/.
#
# usage: scripts/run-fuzz.sh [SECONDS]        (default 60; env FUZZ_SECONDS too)
#   env: ORCD_DATA_DIR    test data (default testdata/ of the checkout)
#        FUZZ_JOBS        parallel fuzzing workers (default 1)
#        FUZZ_RSS_MB      memory limit per input run (default 2048)
#        FUZZ_TIMEOUT_S   per-input time limit (default 10)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-60}}"
data="${ORCD_DATA_DIR:-$root/testdata}"
jobs="${FUZZ_JOBS:-1}"
build="$root/build-fuzz"
work="$build/fuzz"

cd "$root"
cmake --preset fuzz >/dev/null
cmake --build "$build" -j"${BUILD_JOBS:-2}" --target fuzz_gguf gguf_seed_corpus

rm -rf "$work/seed"
mkdir -p "$work/seed" "$work/corpus" "$work/artifacts"
stories="$data/models/stories260K.gguf"
if [[ -f "$stories" ]]; then
  "$build/bin/gguf_seed_corpus" "$work/seed" "$stories"
else
  echo "run-fuzz: $stories not found; seeding with written models only" >&2
  "$build/bin/gguf_seed_corpus" "$work/seed"
fi

args=(-max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT_S:-10}"
      -artifact_prefix="$work/artifacts/" -print_final_stats=1)
if (( jobs > 1 )); then
  args+=(-fork="$jobs")
fi
# The first directory collects new interesting inputs and persists between
# runs; the seed directory is regenerated each time.
echo "run-fuzz: fuzzing the GGUF reader for ${seconds}s"
"$build/bin/fuzz_gguf" "${args[@]}" "$work/corpus" "$work/seed"
echo "run-fuzz: no crash in ${seconds}s"
