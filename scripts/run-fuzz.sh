#!/usr/bin/env bash
# Builds the `fuzz` preset and runs one libFuzzer target for a bounded time.
# Exits non-zero when the fuzzer finds a crash, a sanitizer report, a timeout
# or an out-of-memory input; the reproducer is left in
# build-fuzz/fuzz/<target>/artifacts/.
#
# usage: scripts/run-fuzz.sh [SECONDS] [TARGET]   (default 60 s, target gguf; env FUZZ_SECONDS too)
#   TARGET gguf   the GGUF reader, seeded with stories260K and written models
#          http   the HTTP front (parser, router, validators, answers), seeded with
#                 tests/http's requests and tests/http/regressions/
#   env: ORCD_DATA_DIR    test data (default testdata/ of the checkout)
#        FUZZ_JOBS        parallel fuzzing workers (default 1)
#        FUZZ_RSS_MB      memory limit per input run (default 2048)
#        FUZZ_TIMEOUT_S   per-input time limit (default 10)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-60}}"
target="${2:-gguf}"
data="${ORCD_DATA_DIR:-$root/testdata}"
jobs="${FUZZ_JOBS:-1}"
build="$root/build-fuzz"

cd "$root"
cmake --preset fuzz >/dev/null
case "$target" in
  gguf)
    work="$build/fuzz"  # the GGUF fuzzer's corpus has always lived here
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
    seeds=("$work/seed")
    what="the GGUF reader"
    ;;
  http)
    work="$build/fuzz/http"
    cmake --build "$build" -j"${BUILD_JOBS:-2}" --target fuzz_http http_seed_corpus
    rm -rf "$work/seed"
    mkdir -p "$work/seed" "$work/corpus" "$work/artifacts"
    "$build/bin/http_seed_corpus" "$work/seed"
    seeds=("$work/seed" "$root/tests/http/regressions")
    what="the HTTP front (parser, router, validators, answer framing)"
    ;;
  *)
    echo "run-fuzz: unknown target '$target' (gguf or http)" >&2
    exit 2
    ;;
esac

args=(-max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT_S:-10}"
      -artifact_prefix="$work/artifacts/" -print_final_stats=1)
if (( jobs > 1 )); then
  args+=(-fork="$jobs")
fi
# The first directory collects new interesting inputs and persists between
# runs; the seed directories are read only.
echo "run-fuzz: fuzzing $what for ${seconds}s"
"$build/bin/fuzz_$target" "${args[@]}" "$work/corpus" "${seeds[@]}"
echo "run-fuzz: no crash in ${seconds}s ($target)"
