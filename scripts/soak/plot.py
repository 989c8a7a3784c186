#!/usr/bin/env python3
"""Plots a soak's samples.csv and jobs.csv (scripts/soak/soak.py) into
soak.png: RSS, device memory, and the probe job's decode rate over time,
the warm-up shaded. Needs matplotlib; without it, says so and returns.

usage: python3 scripts/soak/plot.py SOAK_OUT_DIR
"""

import csv
import json
import os
import sys


def _num(v):
    return float(v) if v not in ("", None) else None


def plot_soak(out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("soak: plot skipped: python3 cannot import matplotlib (apt-get install python3-matplotlib, or pip "
              f"install matplotlib); the data is in {out}/samples.csv and {out}/jobs.csv; plot it later with "
              f"python3 scripts/soak/plot.py {out}", flush=True)
        return False
    with open(os.path.join(out, "samples.csv")) as f:
        samples = list(csv.DictReader(f))
    with open(os.path.join(out, "jobs.csv")) as f:
        jobs = list(csv.DictReader(f))
    warmup_min = 0.0
    try:
        with open(os.path.join(out, "summary.json")) as f:
            warmup_min = json.load(f).get("warmup_min", 0.0)
    except OSError:
        pass

    t = [float(s["t_s"]) / 60 for s in samples]

    def series(key, scale):
        return [(_num(s[key]) or 0) / scale for s in samples]

    fig, ax = plt.subplots(3, 1, figsize=(10, 10), sharex=True)
    ax[0].plot(t, series("rss_kb", 1024), marker=".")
    ax[0].set_ylabel("RSS (MiB)")
    ax[1].plot(t, series("vram_tracked_bytes", 2**20), marker=".", label="tracked (/health)")
    if any(s["device_used_bytes"] for s in samples):
        ax[1].plot(t, series("device_used_bytes", 2**20), marker=".", label="in use (cudaMemGetInfo)")
    if any(s["nvidia_smi_used_mib"] for s in samples):
        ax[1].plot(t, series("nvidia_smi_used_mib", 1), marker=".", label="nvidia-smi used")
    ax[1].set_ylabel("device memory (MiB)")
    ax[1].legend()
    probes = [j for j in jobs if j["kind"] == "probe" and j["terminal"] == "end" and j["tokens_per_sec"]]
    ax[2].plot([float(j["t_s"]) / 60 for j in probes], [float(j["tokens_per_sec"]) for j in probes], ".")
    ax[2].set_ylabel("probe decode tok/s")
    ax[2].set_xlabel("minutes")
    for a in ax:
        a.axvspan(0, warmup_min, color="0.9")
        a.grid(True, alpha=0.3)
    fig.suptitle("worker-orcd soak (grey: warm-up)")
    fig.tight_layout()
    path = os.path.join(out, "soak.png")
    fig.savefig(path, dpi=100)
    print(f"soak: plot written to {path}", flush=True)
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if plot_soak(sys.argv[1]) else 1)
