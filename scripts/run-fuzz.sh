#!/usr/bin/env bash
# Builds the `fuzz` preset and runs one fuzzer for a bounded time: the GGUF
# reader (default) or the tokenizers (encode -> decode round trips).
# Exits non-zero when the fuzzer finds a crash, a sanitizer report, a timeout
# or an out-of-memory input; the reproducer is left in
# build-fuzz/fuzz[-TARGET]/artifacts/.
#
# usage: scripts/run-fuzz.sh [SECONDS] [gguf|tokenizer]   (default 60 gguf; env FUZZ_SECONDS too)
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
work="$build/fuzz"

cd "$root"
cmake --preset fuzz >/dev/null
args=(-max_total_time="$seconds" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" -timeout="${FUZZ_TIMEOUT_S:-10}"
      -print_final_stats=1)
if (( jobs > 1 )); then
  args+=(-fork="$jobs")
fi

if [[ "$target" == tokenizer ]]; then
  cmake --build "$build" -j"${BUILD_JOBS:-2}" --target fuzz_tokenizer
  work="$build/fuzz-tokenizer"
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
  echo "run-fuzz: fuzzing the tokenizers for ${seconds}s"
  ORCD_DATA_DIR="$data" "$build/bin/fuzz_tokenizer" "${args[@]}" -artifact_prefix="$work/artifacts/" \
    "$work/corpus" "$work/seed"
  echo "run-fuzz: no crash in ${seconds}s"
  exit 0
fi
[[ "$target" == gguf ]] || { echo "run-fuzz: unknown target '$target' (gguf or tokenizer)" >&2; exit 2; }

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

args+=(-artifact_prefix="$work/artifacts/")
# The first directory collects new interesting inputs and persists between
# runs; the seed directory is regenerated each time.
echo "run-fuzz: fuzzing the GGUF reader for ${seconds}s"
"$build/bin/fuzz_gguf" "${args[@]}" "$work/corpus" "$work/seed"
echo "run-fuzz: no crash in ${seconds}s"
