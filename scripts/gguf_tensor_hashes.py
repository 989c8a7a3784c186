#!/usr/bin/env python3
"""Reads lines "NAME|ORIGINAL.gguf|EXPANDED-F32.gguf" on stdin and prints
testdata/reference/dequant.json: for every tensor of ORIGINAL that is not
F32, its type and the sha256 of its F32 expansion in EXPANDED (the raw
little-endian F32 bytes, row after row). Used by make-dequant-hashes.sh."""
import hashlib
import json
import struct
import sys

# GGUF tensor type ids -> names, as the format numbers them.
TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K",
         11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 20: "IQ4_NL", 23: "IQ4_XS", 30: "BF16", 39: "MXFP4"}
SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class Reader:
    def __init__(self, path):
        self.b = open(path, "rb").read()
        self.p = 0

    def take(self, fmt):
        v = struct.unpack_from("<" + fmt, self.b, self.p)
        self.p += struct.calcsize("<" + fmt)
        return v[0]

    def string(self):
        n = self.take("Q")
        s = self.b[self.p:self.p + n].decode("utf-8")
        self.p += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        return self.take(SCALARS[t])


def tensors(path):
    """(tensor infos in file order, the reader, the data section's start)."""
    r = Reader(path)
    if r.b[:4] != b"GGUF":
        sys.exit(path + ": not a GGUF file")
    r.p = 4
    r.take("I")  # version
    n_tensors, n_kv = r.take("Q"), r.take("Q")
    align = 32
    for _ in range(n_kv):
        key = r.string()
        v = r.value(r.take("I"))
        if key == "general.alignment":
            align = v
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        infos.append({"name": name, "dims": dims, "type": r.take("I"), "offset": r.take("Q")})
    start = (r.p + align - 1) // align * align
    return infos, r.b, start


out = []
for line in sys.stdin:
    name, original, expanded = line.strip().split("|")
    orig, _, _ = tensors(original)
    exp, data, start = tensors(expanded)
    by_name = {t["name"]: t for t in exp}
    entry = {"name": name, "tensors": []}
    for t in orig:
        if t["type"] == 0:
            continue
        e = by_name[t["name"]]
        if e["type"] != 0 or e["dims"] != t["dims"]:
            sys.exit("%s: %s was not expanded to F32" % (expanded, t["name"]))
        n = 1
        for d in e["dims"]:
            n *= d
        blob = data[start + e["offset"]:start + e["offset"] + 4 * n]
        entry["tensors"].append({"name": t["name"], "type": TYPES.get(t["type"], str(t["type"])),
                                 "sha256": hashlib.sha256(blob).hexdigest()})
    out.append(entry)
json.dump({"about": "sha256 of each block-format tensor as llama.cpp's dequantizer expands it to F32; "
                    "made by scripts/make-dequant-hashes.sh, checked by tests/unit/test_dequant_oracle.cpp.",
           "files": out}, sys.stdout, indent=1)
print()
