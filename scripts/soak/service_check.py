#!/usr/bin/env python3
"""Service check of one model file, for a GPU host (not part of CI): what an
operator sees when a worker takes a model. Stdlib only; shares soak.py's
HTTP client and worker launcher.

  1. load: the file is read once (so it sits in the page cache), then the
     wall time from starting worker-orcd to its `ready` event is measured,
     beside the load_seconds its model_load_complete event reports;
  2. /health: architecture, quant_kind, vram_bytes_used and the device, and
     the device memory in use (total - free, cudaMemGetInfo via /metrics);
  3. --jobs jobs (greedy and sampled in turn, every third with stop
     sequences), each answered 200 and ending with exactly one terminal
     event, `end`; vram_bytes_used after every job, and the device memory in
     use after the last, equal to the post-load baseline;
  4. seeds 42, 123 and 999 at temperature 0.7 (64 tokens) streamed, the
     worker shut down (exit 0) and started again on the same file, the three
     streamed again: the token events' bytes and the end event's stop reason
     and count identical.

Prints a table and writes summary.json into --out; exit 0 when every check
passes, 1 when one fails, 2 when the check could not run.

usage: scripts/soak/service_check.py --model PATH [--bin build/bin]
       [--gpu-device N | --device cpu] [--jobs 100] [--max-load-sec S]
       [--expect-architecture A] [--expect-quant Q] [--out DIR]
"""

import argparse
import json
import os
import sys
import time

from soak import Worker, connect, http, parse_metrics, request_bytes

PROMPT = "Write a short poem about the sea."
STOPS = [["."], ["\n"], [" the", " and"]]


def health(port):
    status, _, body = http(port, "GET", "/health")
    if status != 200:
        raise RuntimeError(f"/health answered {status}")
    return json.loads(body)


def device_in_use(port):
    """total - free from /metrics (cudaMemGetInfo), or None on the CPU."""
    status, _, body = http(port, "GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    m = parse_metrics(body.decode())
    free = m.get("worker_device_memory_free_bytes")
    total = m.get("worker_device_memory_total_bytes")
    return None if free is None or total is None else int(total - free)


def execute_raw(port, body, timeout=300):
    """(status, [(event, data bytes)]) of one /execute, read to the close."""
    with connect(port, timeout) as s:
        s.sendall(request_bytes("POST", "/execute", json.dumps(body).encode(), {"Content-Type": "application/json"}))
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    events = []
    for raw in rest.split(b"\n\n"):
        if not raw.strip():
            continue
        fields = dict(line.split(b": ", 1) for line in raw.split(b"\n") if b": " in line)
        events.append((fields.get(b"event", b"").decode(), fields.get(b"data", b"")))
    return status, events


def job_ok(status, events):
    """'' when the job streamed started .. exactly one terminal `end`, else why not."""
    if status != 200:
        return f"status {status}"
    kinds = [k for k, _ in events]
    terminal = [k for k in kinds if k in ("end", "error")]
    if not kinds or kinds[0] != "started":
        return f"first event {kinds[:1]}"
    if len(terminal) != 1 or kinds[-1] != terminal[0]:
        return f"terminal events {terminal}"
    if terminal[0] != "end":
        return f"ended with {events[-1][1][:200]!r}"
    return ""


def seeded_streams(port):
    out = {}
    for seed in (42, 123, 999):
        body = {"job_id": f"svc-seed-{seed}", "prompt": PROMPT, "max_tokens": 64, "temperature": 0.7, "seed": seed}
        status, events = execute_raw(port, body)
        why = job_ok(status, events)
        if why:
            raise RuntimeError(f"seed {seed}: {why}")
        end = json.loads(events[-1][1])
        out[seed] = [d for k, d in events if k == "token"] + [f"{end.get('stop_reason')} {end.get('tokens_out')}".encode()]
    return out


def start(args, out, name):
    t0 = time.monotonic()
    w = Worker(args, os.path.join(out, name), args.inference_timeout, None)
    ready_s = time.monotonic() - t0
    return w, ready_s, w.event("model_load_complete").get("load_seconds")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "..", "build", "bin"))
    ap.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    ap.add_argument("--gpu-device", type=int, default=0)
    ap.add_argument("--ctx-size", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--max-load-sec", type=float, default=0, help="fail when ready takes longer (0: report only)")
    ap.add_argument("--expect-architecture", default="")
    ap.add_argument("--expect-quant", default="")
    ap.add_argument("--ready-timeout", type=float, default=300)
    ap.add_argument("--inference-timeout", type=float, default=300)
    ap.add_argument("--out", default="service-check-out")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if not os.path.isfile(args.model):
        print(f"service_check: no model file {args.model}", file=sys.stderr)
        return 2

    # Into the page cache: the load time asked of a worker is from cache.
    with open(args.model, "rb") as f:
        while f.read(1 << 24):
            pass
    size = os.path.getsize(args.model)

    rows, ok = [], True

    def check(name, good, detail):
        nonlocal ok
        ok = ok and good
        rows.append((name, "pass" if good else "FAIL", detail))

    try:
        w, ready_s, load_s = start(args, args.out, "worker1.log")
    except Exception as e:  # the worker did not come up
        print(f"service_check: {e}", file=sys.stderr)
        return 2
    try:
        limit = f" (limit {args.max_load_sec:g} s)" if args.max_load_sec else ""
        check("load from page cache", not args.max_load_sec or ready_s < args.max_load_sec,
              f"ready after {ready_s:.2f} s, load_seconds {load_s}{limit}")
        h = health(w.port)
        base_vram, base_dev = h.get("vram_bytes_used"), device_in_use(w.port)
        fields = {k: h.get(k) for k in ("status", "architecture", "quant_kind", "vram_bytes_used", "context_length",
                                        "device", "gpu_name", "resident")}
        good = h.get("status") == "healthy" and h.get("resident") is True
        good = good and (not args.expect_architecture or h.get("architecture") == args.expect_architecture)
        good = good and (not args.expect_quant or h.get("quant_kind") == args.expect_quant)
        check("/health after load", good, json.dumps(fields) + f", file {size} bytes, device in use {base_dev}")

        bad, drift, warm_dev = [], [], None
        t0 = time.monotonic()
        for i in range(args.jobs):
            body = {"job_id": f"svc-{i}", "prompt": PROMPT, "max_tokens": 32,
                    "temperature": 0 if i % 2 == 0 else 0.8, "seed": i}
            if i % 3 == 2:
                body["stop"] = STOPS[i % len(STOPS)]
            status, events = execute_raw(w.port, body)
            why = job_ok(status, events)
            if why:
                bad.append(f"job {i}: {why}")
            v = health(w.port).get("vram_bytes_used")
            if v != base_vram:
                drift.append(f"job {i}: {v}")
            if i == 1:  # after one greedy and one sampled job
                warm_dev = device_in_use(w.port)
        jobs_s = time.monotonic() - t0
        end_dev = device_in_use(w.port)
        check(f"{args.jobs} jobs end with one `end`", not bad, f"{len(bad)} bad in {jobs_s:.1f} s " + "; ".join(bad[:3]))
        check("vram_bytes_used after every job", not drift,
              f"baseline {base_vram}, {len(drift)} differ " + "; ".join(drift[:3]))
        # The first jobs run kernels the load did not; the driver loads their
        # code on first use (lazy module loading), so device memory in use
        # settles after them. The baseline is taken there.
        check("device memory in use after the jobs", end_dev == warm_dev,
              f"after load {base_dev}, after the first two jobs {warm_dev}, after all {end_dev}")

        first = seeded_streams(w.port)
        code = w.shutdown()
        check("shutdown", code == 0, f"exit {code}")
    finally:
        if w.alive():
            w.proc.kill()
    try:
        w2, ready2_s, load2_s = start(args, args.out, "worker2.log")
    except Exception as e:
        check("restart", False, str(e))
        w2 = None
    if w2:
        try:
            again = seeded_streams(w2.port)
            same = [s for s in first if first[s] == again[s]]
            check("seeds 42/123/999 after a restart", len(same) == 3 and first[42] != first[123],
                  f"{len(same)}/3 identical ({', '.join(str(len(first[s]) - 1) for s in first)} tokens), "
                  f"restart ready after {ready2_s:.2f} s")
            w2.shutdown()
        finally:
            if w2.alive():
                w2.proc.kill()

    summary = {"model": args.model, "file_bytes": size, "pass": ok, "checks": [list(r) for r in rows]}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"| check ({os.path.basename(args.model)}) | result | detail |\n| --- | --- | --- |")
    for name, res, detail in rows:
        print(f"| {name} | {res} | {detail} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
