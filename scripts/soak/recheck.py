#!/usr/bin/env python3
"""Judges the jobs of a finished soak again with the current rules of soak.py
(Runner.expected), from the run's jobs.csv (or jobs.csv.gz) and summary.json: for when a rule
changed after a run, so the run need not be repeated to see what the rule
says about it. Prints the verdict counts as recorded and as judged now, and
every job whose verdict changed. Exit 0 when no job is unexpected now.

usage: scripts/soak/recheck.py SOAK_OUT_DIR
"""

import collections
import csv
import gzip
import json
import os
import sys

from soak import Runner, codes_of_faults


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    runner = Runner(0, summary["plan"], codes_of_faults(summary.get("faults")))
    before, after, changed = collections.Counter(), collections.Counter(), []
    jobs = os.path.join(out, "jobs.csv")
    opener = (lambda: open(jobs, newline="")) if os.path.exists(jobs) else \
        (lambda: gzip.open(jobs + ".gz", "rt", newline=""))
    with opener() as f:
        for row in csv.DictReader(f):
            if row["kind"] == "pressure":  # judged by status alone when recorded; unchanged
                before[row["verdict"]] += 1
                after[row["verdict"]] += 1
                continue
            rec = dict(row, status=int(row["status"] or 0))
            verdict = runner.expected(rec) or "UNEXPECTED"
            before[row["verdict"]] += 1
            after[verdict] += 1
            if verdict != row["verdict"]:
                changed.append((row["t_s"], row["kind"], row["terminal"], row["code"], row["stop_reason"],
                                row["tokens_out"], row["verdict"], verdict))
    print(f"jobs of {out}: as recorded {dict(before)}")
    print(f"judged now: {dict(after)}")
    for c in changed:
        print("changed: t=%s s kind=%s terminal=%s code=%s stop_reason=%s tokens=%s: %s -> %s" % c)
    return 0 if after["UNEXPECTED"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
