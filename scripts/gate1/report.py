"""Turns a CTest JUnit file into the Gate 1 report (Markdown + JSON).

Each Gate 1 item names the tests that prove it (regular expressions over
CTest test names, see items.py). An item passes when every matched test
passed, fails when any failed or when nothing matched, and is not-run when
its tests were skipped (the GPU tests say "skipped: no CUDA device")."""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from items import ITEMS


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def machine(root):
    gpu = sh("nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1")
    name, driver = (gpu.split(", ") + [""])[:2] if gpu else ("no CUDA device", "")
    cuda = sh("nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\\([0-9.]*\\).*/\\1/p' | head -1")
    return {
        "commit": os.environ.get("ORCD_COMMIT") or sh(f"git -C '{root}' rev-parse --verify -q HEAD") or "unknown",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpu": name,
        "driver": driver or "n/a",
        "cuda_runtime": cuda or "n/a",
        "host": sh("uname -srm"),
    }


def load_junit(paths):
    results = {}
    cases = []
    for path in paths.split(","):
        try:
            cases += list(ET.parse(path).getroot().iter("testcase"))
        except (OSError, ET.ParseError) as e:
            print(f"gate1: cannot read {path}: {e}", file=sys.stderr)
    for case in cases:
        name = case.get("name")
        status = case.get("status", "")
        if case.find("failure") is not None or case.find("error") is not None:
            status = "fail"
        elif case.find("skipped") is not None or status in ("notrun", "disabled"):
            status = "skipped"
        else:
            status = "pass" if status in ("run", "") else status
        out = case.find("system-out")
        text = out.text if out is not None and out.text else ""
        if status == "pass" and "[  SKIPPED ]" in text:
            status = "skipped"
        results[name] = (status, text)
    return results


def evaluate(item, results):
    matched = {n: r for n, r in results.items() if any(re.search(p, n) for p in item["tests"])}
    if not matched:
        return "fail", "no test found behind this item", []
    tests = [{"name": n, "result": s} for n, (s, _) in sorted(matched.items())]
    if any(s == "fail" for s, _ in matched.values()):
        return "fail", "a test failed", tests
    if all(s == "pass" for s, _ in matched.values()):
        return "pass", "", tests
    skipped = [t for n, (s, t) in matched.items() if s == "skipped"]
    reason = "skipped: no CUDA device" if any("no CUDA device" in t for t in skipped) else "tests skipped"
    if any(s == "pass" for s, _ in matched.values()) and not item.get("gpu"):
        # A CPU item whose GPU variants were skipped: it passes on what ran,
        # and says what did not.
        n_skipped = sum(s == "skipped" for s, _ in matched.values())
        return "pass", f"{n_skipped} GPU variant(s) skipped", tests
    return "not-run", reason, tests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--junit", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--require-gpu", type=int, default=0)
    a = ap.parse_args()
    results = load_junit(a.junit)
    m = machine(a.root)
    rows = []
    for i, item in enumerate(ITEMS, 1):
        status, reason, tests = evaluate(item, results)
        rows.append({"item": i, "title": item["title"], "gpu": bool(item.get("gpu")), "status": status,
                     "reason": reason, "tests": tests})
    with open(f"{a.out}/gate1-report.json", "w") as f:
        json.dump({"machine": m, "items": rows}, f, indent=2)
    lines = ["# Gate 1 report", "",
             f"- commit: `{m['commit']}`", f"- date: {m['date']}", f"- GPU: {m['gpu']}",
             f"- driver: {m['driver']}", f"- CUDA: {m['cuda_runtime']}", f"- host: {m['host']}", "",
             "| # | item | status | tests (passed/total) | note |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        n_pass = sum(t["result"] == "pass" for t in r["tests"])
        lines.append(f"| {r['item']} | {r['title']} | **{r['status']}** | {n_pass}/{len(r['tests'])} | {r['reason']} |")
    lines += ["", "## Tests behind each item", ""]
    for r in rows:
        lines.append(f"- **{r['item']}. {r['title']}**: " +
                     (", ".join(f"`{t['name']}` {t['result']}" for t in r["tests"]) or "none"))
    with open(f"{a.out}/gate1-report.md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[:len(rows) + 10]))
    failed = [r for r in rows if r["status"] == "fail"]
    not_run = [r for r in rows if r["status"] == "not-run"]
    print(f"\ngate1: {len(rows) - len(failed) - len(not_run)} pass, {len(failed)} fail, {len(not_run)} not-run")
    if failed or (a.require_gpu and not_run):
        sys.exit(1)


if __name__ == "__main__":
    main()
