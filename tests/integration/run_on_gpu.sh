#!/usr/bin/env bash
# Runs the integration suite against a CUDA device, or reports that there is
# none with exit code 77 (CTest's SKIP_RETURN_CODE for this test).
set -u
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU 0'; then
  echo "skipped: no CUDA device"
  exit 77
fi
exec "$1" --gtest_brief=1
