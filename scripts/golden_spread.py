#!/usr/bin/env python3
"""How far two llama-golden runs on the same file are from each other:
the largest difference of a first-step logit over the tokens both runs
have among their top 5, prompt by prompt. Used by gpu-full-shapes.sh to
print llama.cpp's own CPU-against-CUDA difference beside ours, so that a
bound can be read against the peer's variation with itself.

usage: golden_spread.py A.jsonl B.jsonl   ->  "0.354 over 38 logits, 8 prompts"
"""
import json
import sys


def load(path):
    return {r["prompt"]: dict((int(i), float(l)) for i, l in r["first_step_top5"])
            for r in map(json.loads, open(path, encoding="utf-8", errors="replace")) if r.get("first_step_top5")}


a, b = load(sys.argv[1]), load(sys.argv[2])
worst, n, prompts = 0.0, 0, 0
for prompt, top in a.items():
    other = b.get(prompt)
    if other is None:
        continue
    prompts += 1
    for i, logit in top.items():
        if i in other:
            worst = max(worst, abs(logit - other[i]))
            n += 1
if n == 0:
    sys.exit("golden_spread: no token in common between %s and %s" % (sys.argv[1], sys.argv[2]))
print("%.3f over %d logits, %d prompts" % (worst, n, prompts))
