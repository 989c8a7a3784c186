#!/usr/bin/env bash
# Regenerates testdata/bench/ from llama.cpp's own programs, on one of the
# reference files (a Q4_K_M file llama-quantize made):
#   - llama-bench-qwen2-q4km.json: what llama-bench prints with `-o json`;
#   - llama-server-stream*.http: raw HTTP responses (head and chunked body)
#     of llama-server's streamed POST /completion, one ending normally and
#     one with an error event;
# the samples the bench's parsers are tested on (tests/unit/test_bench_*.cpp).
# The figures are CPU speeds of whatever machine ran it: the tests read the
# fields, not the speeds.
#
#   scripts/make-llama-bench-sample.sh LLAMA_CPP_DIR
#
# LLAMA_CPP_DIR holds llama.cpp's build (bin/llama-bench, bin/llama-server,
# lib/). Needs curl.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lc=${1:?usage: make-llama-bench-sample.sh LLAMA_CPP_DIR}
export LD_LIBRARY_PATH="$lc/lib:${LD_LIBRARY_PATH:-}"
out="$root/testdata/bench"
mkdir -p "$out"
cd "$root"
# The same tests scripts/bench.sh asks for, scaled down: prefill, and
# decode at two depths.
"$lc/bin/llama-bench" -m testdata/reference/qwen2-q4km.gguf -p 64 -n 16 -d 0,128 -r 2 -fa 1 -t 1 -o json \
  > "$out/llama-bench-qwen2-q4km.json"

# The same request scripts/bench.sh --peer-http times, with a short answer.
port=18000
while (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
"$lc/bin/llama-server" -m testdata/reference/qwen2-q4km.gguf --port "$port" -ngl 999 -fa on -c 4096 -np 1 -t 1 \
  > /dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT
for _ in $(seq 1 300); do
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "127.0.0.1:$port/health")" == 200 ]] && break
  sleep 0.1
done
stream() {  # n_predict, file
  curl -s -i --raw -N -H 'Connection: close' "127.0.0.1:$port/completion" \
    -d '{"prompt": [1, 100, 200, 300, 400], "n_predict": '"$1"', "stream": true, "cache_prompt": false, "temperature": 0}' \
    > "$out/$2"
}
stream 1 llama-server-stream.http
# Its second token is an ESC character, which this llama-server answers with
# an error event ("does not match the expected Content-only format").
stream 6 llama-server-stream-error.http
echo "wrote $out/llama-bench-qwen2-q4km.json, llama-server-stream.http, llama-server-stream-error.http"
