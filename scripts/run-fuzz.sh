#!/usr/bin/env bash
# Builds the `fuzz` preset and runs one libFuzzer target for a bounded time.
# Exits non-zero when the fuzzer finds a crash, a sanitizer report, a timeout
# or an out-of-memory input; the reproducer is left in the target's
# artifacts/ folder (below).
#
# usage: scripts/run-fuzz.sh [SECONDS] [TARGET]   (default 60 s, target gguf; env FUZZ_SECONDS too)
#   TARGET gguf       the GGUF reader, seeded with stories260K and written models
#                     (build-fuzz/fuzz/)
#          http       the HTTP front (parser, router, validators, answers), seeded
#                     with tests/http's requests and tests/http/regressions/
#                     (build-fuzz/fuzz/http/)
#          tokenizer  the tokenizers (encode -> decode round trips), seeded with
#                     the tokenizer test vectors' strings (build-fuzz/fuzz-tokenizer/)
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
  tokenizer)
    work="$build/fuzz-tokenizer"
    cmake --build "$build" -j"${BUILD_JOBS:-2}" --target fuzz_tokenizer
    rm -rf "$work/seed"
    mkdir -p "$work/seed" "$work/corpus" "$work/artifacts"
    # Seeds: the strings of the tokenizer test vectors, each behind every
    # selector byte (tokenizer x parse_special).
    python3 - "$data/tokenizer" "$work/seed" <<'PY'
import glob, os, sys
src, out = sys.argv[1], sys.argv[2]
texts = []
for f in sorted(glob.glob(os.path.join(src, "*.inp"))):
    texts += open(f, "rb").read().split(b"\n__ggml_vocab_test__\n")[:-1]
for i, t in enumerate(texts):
    open(os.path.join(out, "s%04d" % i), "wb").write(bytes([i % 12]) + t)
PY
    seeds=("$work/seed")
    what="the tokenizers"
    export ORCD_DATA_DIR="$data"
    ;;
  *)
    echo "run-fuzz: unknown target '$target' (gguf, http or tokenizer)" >&2
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
