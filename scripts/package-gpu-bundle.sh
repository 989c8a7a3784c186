#!/usr/bin/env bash
# Packs what the GPU checks need onto a bare GPU host, without object files:
# the stripped binaries of build/bin, CTest's files of build/ (so `ctest`
# works there), and the test data the suite reads (stories260K, the golden
# outputs, the Llama SentencePiece vocabulary for synthesized models).
#
# usage: scripts/package-gpu-bundle.sh [OUT_DIR]     (default .gpu-carry)
# On the GPU host, from the checkout's root:
#   tar -xJf OUT_DIR/bundle.tar.xz      # restores build/ and gpu-data/
#   export ORCD_SHARED_DIR=$PWD/gpu-data
# CTest files name absolute paths: the checkout must sit at the same path as
# where it was built (a symbolic link to it is enough).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.gpu-carry}"
shared="${ORCD_SHARED_DIR:-$root/../shared}"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cd "$root"

mkdir -p "$stage/build/bin"
# Where the tree was built: CTest files name these paths.
echo "$root" > "$stage/build/source-root.txt"
# The commit the binaries were built from (the GPU host may have no git history).
# A tree with uncommitted changes to tracked files is marked "-dirty".
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
[[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]] && commit="$commit-dirty"
echo "$commit" > "$stage/build/commit.txt"
for f in build/bin/*; do
  [[ -f "$f" ]] || continue
  [[ -x "$f" ]] || { cp "$f" "$stage/build/bin/"; continue; }
  strip -o "$stage/build/bin/$(basename "$f")" "$f" 2>/dev/null || cp "$f" "$stage/build/bin/"
done
# CTest's test lists, including the ones test discovery wrote at build time.
find build -path build/bin -prune -o \( -name CTestTestfile.cmake -o -name '*_tests.cmake' \
     -o -name '*_include.cmake' -o -name '*_labels.cmake' \) -print |
  while read -r f; do mkdir -p "$stage/$(dirname "$f")"; cp "$f" "$stage/$f"; done
# Scripts the tests call by absolute source path.
mkdir -p "$stage/gpu-data/models" "$stage/gpu-data/golden" "$stage/gpu-data/tokenizer"
cp "$shared/models/stories260K.gguf" "$stage/gpu-data/models/"
cp "$shared/golden/"* "$stage/gpu-data/golden/"
cp "$shared/tokenizer/"ggml-vocab-{llama-spm,phi-3}.gguf* "$stage/gpu-data/tokenizer/"

mkdir -p "$out"
tar -C "$stage" -cf - build gpu-data | xz -T2 -6 > "$out/bundle.tar.xz"
ls -la "$out/bundle.tar.xz"
