#!/usr/bin/env bash
# Packs what the GPU checks need onto a bare GPU host, without object files:
# the stripped binaries of build/bin and CTest's files of build/ (so `ctest`
# works there). The test data (testdata/) travels with the checkout.
#
# usage: scripts/package-gpu-bundle.sh [OUT_DIR]     (default .gpu-carry)
# On the GPU host, from the checkout's root:
#   tar -xJf OUT_DIR/bundle.tar.xz      # restores build/
# CTest files name absolute paths: the checkout must sit at the same path as
# where it was built (a symbolic link to it is enough).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.gpu-carry}"
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
  # CPU-only unit tests run where the tree was built; set ORCD_BUNDLE_ALL=1 to carry them too.
  [[ "${ORCD_BUNDLE_ALL:-0}" != 1 && $(basename "$f") == test_* ]] && continue
  [[ -x "$f" ]] || { cp "$f" "$stage/build/bin/"; continue; }
  strip -o "$stage/build/bin/$(basename "$f")" "$f" 2>/dev/null || cp "$f" "$stage/build/bin/"
done
# CTest's test lists, including the ones test discovery wrote at build time.
find build -path build/bin -prune -o \( -name CTestTestfile.cmake -o -name '*_tests.cmake' \
     -o -name '*_include.cmake' -o -name '*_labels.cmake' \) -print |
  while read -r f; do mkdir -p "$stage/$(dirname "$f")"; cp "$f" "$stage/$f"; done

mkdir -p "$out"
# One thread and a 64 MiB dictionary: the binaries share most of their bytes
# (the kernels), which a single xz stream stores once.
tar -C "$stage" -cf - build | xz -T1 -9 > "$out/bundle.tar.xz"
ls -la "$out/bundle.tar.xz"
