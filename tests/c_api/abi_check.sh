#!/usr/bin/env bash
# The C API is "stable" when its exported symbols and struct layouts match
# abi_manifest.txt. A change must come with a bump of ORCD_ABI_VERSION and a
# regenerated manifest (run this script with --update).
# usage: abi_check.sh ABI_DUMP_BINARY SYMBOLS.txt MANIFEST [--update]
# SYMBOLS.txt lists "symbol orcd_..." lines read off the library at build time.
set -euo pipefail
dump=$1 symbols=$2 manifest=$3
current=$(mktemp)
trap 'rm -f "$current"' EXIT
{
  "$dump"
  # Exported C API functions: global text symbols named orcd_* (C++ symbols
  # are mangled, so they never match).
  [[ -s "$symbols" ]] || { echo "FAIL: no exported symbols in $symbols" >&2; exit 1; }
  cat "$symbols"
} > "$current"
if [[ ${4:-} == --update ]]; then
  cp "$current" "$manifest"
  echo "manifest updated: $manifest"
  exit 0
fi
if diff -u "$manifest" "$current"; then
  echo "ABI matches the manifest (abi_version $(sed -n 's/^abi_version=//p' "$current"))"
  exit 0
fi
old=$(sed -n 's/^abi_version=//p' "$manifest")
new=$(sed -n 's/^abi_version=//p' "$current")
if [[ "$old" == "$new" ]]; then
  echo "FAIL: the C ABI changed (diff above) but ORCD_ABI_VERSION is still $new: bump it and run abi_check.sh --update"
else
  echo "FAIL: ORCD_ABI_VERSION moved from $old to $new: regenerate the manifest with abi_check.sh --update"
fi
exit 1
