#!/usr/bin/env bash
# Writes testdata/tokenizer/phi3-special.vectors.json: texts with Phi-3's
# chat markup tokenized by llama.cpp (llama-server's /tokenize, no BOS) with
# and without special-token parsing, on a tiny phi3 model that carries
# testdata/tokenizer/ggml-vocab-phi-3.gguf's vocabulary. llama.cpp strips the
# whitespace after Phi-3's markup and </s> as the model's tokenizer.json
# marks them (rstrip). Needs build/bin/worker-orcd-synth.
#   tools/tokenizer-vectors/phi3_special_vectors.sh LLAMA_CPP_DIR   (bin/llama-server, lib/)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lc=${1:?usage: phi3_special_vectors.sh LLAMA_CPP_DIR}
work=$(mktemp -d)
pid=""
trap '[[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$root/build/bin/worker-orcd-synth" --shape phi3-mini-4k --dim 64 --layers 1 --heads 2 --kv-heads 2 --ffn 128 \
  --type f16 --vocab "$root/testdata/tokenizer/ggml-vocab-phi-3.gguf" -o "$work/phi3.gguf" > /dev/null
port=$((20000 + RANDOM % 20000))
LD_LIBRARY_PATH="$lc/lib" "$lc/bin/llama-server" -m "$work/phi3.gguf" --port "$port" -c 256 > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 120); do curl -sf "localhost:$port/health" > /dev/null && break; sleep 0.5; done
python3 - "$port" "$root/testdata/tokenizer/phi3-special.vectors.json" <<'PY'
import json, sys, urllib.request
port, out = sys.argv[1], sys.argv[2]
texts = [
    "<|user|>\nHello world, how are you?<|end|>\n<|assistant|>\n",
    "<|system|>\nYou are helpful.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n",
    "<|user|>\n  two spaces first<|end|>\n",
    "<|user|>\n\n\nthree newlines<|end|>",
    "<|user|>\r\n\ttab and CRLF<|end|>\r\n",
    "<|user|> \t \n mixed whitespace <|end|> \n <|assistant|> \n ",
    "<|end|><|end|>\n<|end|>",
    "<|user|>",
    "<|user|>\n",
    "text</s> after eos</s>\n\nmore",
    "<s> bos keeps its space<s>x",
    "<|endoftext|> endoftext keeps it",
    "<|user|>\u3000ideographic space is not ASCII whitespace",
    "<|user|>\u00a0no-break space too",
    "<|placeholder1|>\n placeholder",
    "plain <|user|> in the middle\n<|end|>tail",
    "no markup at all\n",
    " leading space, then <|assistant|>   trailing",
]
cases = []
for t in texts:
    for ps in (True, False):
        req = urllib.request.Request(f"http://localhost:{port}/tokenize",
                                     data=json.dumps({"content": t, "parse_special": ps}).encode(),
                                     headers={"Content-Type": "application/json"})
        ids = json.load(urllib.request.urlopen(req, timeout=30))["tokens"]
        cases.append({"text": t, "parse_special": ps, "ids": ids})
doc = {"source": "llama.cpp llama-server /tokenize (add_special false) on a phi3 model with "
                 "testdata/tokenizer/ggml-vocab-phi-3.gguf; made by tools/tokenizer-vectors/phi3_special_vectors.sh",
       "cases": cases}
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"{len(cases)} cases -> {out}")
PY
