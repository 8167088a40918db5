#!/usr/bin/env python3
"""Summarizes INTFA_SM90_TRACE output (bench/sm90_trace.sh): per SM, the mean,
min and max over its CTAs of the first launch of
  q          entry -> Q̂ landed (latest consumer)
  first      entry -> first key block landed
  loop       first block landed -> last consumer's loop done
  spread     first to last consumer done with its loop
  epi        loop done -> end (longest consumer: v_scale, LSE, output stores)
  epi_rows   loop done -> rows finished (v_scale loads, l sums, LSE), longest
  epi_store  rows finished -> end (the output stores), longest
  total      entry -> last consumer's end
  per_block  loop / (blocks - 1)
  gap        previous CTA's end -> this CTA's entry (inflated by the printf)
Usage: sm90_trace_summary.py TRACE_FILE [LAUNCH_INDEX]"""
import collections
import sys


def main():
    rows = []
    for line in open(sys.argv[1]):
        if not line.startswith("TRACE"):
            continue
        f = line.split()
        # TRACE sm S cta C consumer W blocks N t0 t1 t2 t3 t4 [t5]
        try:
            rows.append((int(f[2]), int(f[4]), int(f[6]), int(f[8]), [int(x) for x in f[9:15]]))
        except (ValueError, IndexError):  # a line cut by the bench's progress output on stderr
            continue
    rows.sort(key=lambda r: r[4][0])
    launches, current, last = [], [], None
    for r in rows:  # launches are separated by more than 1 ms without a CTA entry
        if last is not None and r[4][0] - last > 1_000_000:
            launches.append(current)
            current = []
        current.append(r)
        last = r[4][0]
    launches.append(current)
    launch = launches[int(sys.argv[2]) if len(sys.argv) > 2 else 0]
    by_sm = collections.defaultdict(dict)
    for sm, cta, consumer, blocks, t in launch:
        by_sm[sm].setdefault(cta, {})[consumer] = (blocks, t)
    for sm in sorted(by_sm):
        ctas = sorted(by_sm[sm].values(), key=lambda cons: min(v[1][0] for v in cons.values()))
        stats = collections.defaultdict(list)
        prev_end = None
        for cons in ctas:
            t = [v[1] for v in cons.values()]
            start, end = min(x[0] for x in t), max(x[4] for x in t)
            first = max(x[2] for x in t)
            loop_end = [x[3] for x in t]
            blocks = max(v[0] for v in cons.values())
            if prev_end is not None:
                stats["gap"].append(start - prev_end)
            stats["q"].append(max(x[1] for x in t) - start)
            stats["first"].append(first - start)
            stats["loop"].append(max(loop_end) - first)
            stats["spread"].append(max(loop_end) - min(loop_end))
            stats["epi"].append(max(x[4] - x[3] for x in t))
            if all(len(x) > 5 for x in t):  # traces since the ninth session
                stats["epi_rows"].append(max(x[5] - x[3] for x in t))
                stats["epi_store"].append(max(x[4] - x[5] for x in t))
            stats["total"].append(end - start)
            stats["per_block"].append((max(loop_end) - first) / max(blocks - 1, 1))
            prev_end = end
        print(f"SM {sm}: {len(ctas)} CTAs")
        for key in ("q", "first", "loop", "spread", "epi", "epi_rows", "epi_store", "total",
                    "per_block", "gap"):
            v = stats[key]
            if v:
                print(f"  {key:10s} mean {sum(v) / len(v) / 1000:8.2f} us  min {min(v) / 1000:8.2f}  max {max(v) / 1000:8.2f}")


if __name__ == "__main__":
    main()
