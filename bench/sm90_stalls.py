#!/usr/bin/env python3
"""Summarize ncu's per-SASS-instruction source page (CSV) of one kernel:
warp-stall samples by reason, by opcode, and the hottest instructions.
Used by bench/sm90_profile.sh; the column names are matched loosely because
they vary between Nsight Compute versions."""
import collections
import csv
import re
import sys


def number(text):
    try:
        return float(str(text).replace(",", ""))
    except ValueError:
        return 0.0


def main(path):
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    # ncu may print a banner before the CSV header
    start = next((i for i, l in enumerate(lines) if l.startswith('"') and "Source" in l), 0)
    rows = list(csv.DictReader(lines[start:]))
    if not rows:
        print("no rows in", path)
        return
    cols = list(rows[0].keys())
    print("columns:", cols)
    src = next(c for c in cols if c.strip().lower() == "source")
    all_col = next((c for c in cols if "Sampling (All" in c), None)
    reason_cols = [c for c in cols if re.search(r"stall", c, re.I) and "Sampling" not in c]
    if all_col is None:
        print("no stall-sampling column")
        return
    total = sum(number(r[all_col]) for r in rows)
    print(f"\nstall samples: {total:.0f}")
    if reason_cols:
        print("\nby reason:")
        sums = {c: sum(number(r[c]) for r in rows) for c in reason_cols}
        for c, v in sorted(sums.items(), key=lambda kv: -kv[1])[:20]:
            if v > 0:
                print(f"  {100 * v / total:6.2f}%  {c}")
    by_op = collections.Counter()
    count_op = collections.Counter()
    for r in rows:
        text = re.sub(r"^@!?U?P\w+\s+", "", r[src].strip())
        op = text.split(" ")[0] if text else "?"
        by_op[op] += number(r[all_col])
        count_op[op] += 1
    print("\nby opcode (samples, static count):")
    for op, v in by_op.most_common(25):
        print(f"  {100 * v / total:6.2f}%  {count_op[op]:5d}  {op}")
    print("\nhottest instructions:")
    hot = sorted(rows, key=lambda r: -number(r[all_col]))[:40]
    addr = next((c for c in cols if "Address" in c), None)
    for r in hot:
        reasons = ""
        if reason_cols:
            top = sorted(((number(r[c]), c) for c in reason_cols), reverse=True)[:2]
            reasons = "  " + ", ".join(f"{c}={v:.0f}" for v, c in top if v > 0)
        print(f"  {100 * number(r[all_col]) / total:5.2f}%  {r.get(addr, '')}  {r[src].strip()[:70]}{reasons}")


if __name__ == "__main__":
    main(sys.argv[1])
