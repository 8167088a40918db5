#!/usr/bin/env python3
"""Combines bench/gpu.sh's JSON lines (intfa-bench --json and sdpa_bench.py)
into OUTDIR/results.jsonl, a PNG chart (TOPS vs sequence length per method,
one panel per head dim and mask) and a table with ratios against PyTorch's
flash and cuDNN back-ends, printed last.

usage: gpu_report.py OUTDIR intfa.jsonl sdpa.jsonl
"""
import json
import math
import sys
from collections import defaultdict


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def main():
    out_dir, intfa_path, sdpa_path = sys.argv[1:4]
    records = []
    for r in load(intfa_path):
        if r.get("seqlen_q") != r.get("seqlen_k") or r.get("backend") != "cuda":
            continue
        base = {"batch": r["batch"], "heads": r["heads"], "seqlen": r["seqlen_q"],
                "head_dim": r["head_dim"], "causal": bool(r["causal"]),
                "kv_block": r.get("kv_block"), "detail": r.get("detail")}
        # Rows measured with INTFA_CUDA_KERNEL=sm80 on Hopper carry "kernel": "sm80".
        name = r["recipe"] + (" sm80" if r.get("kernel") == "sm80" else "")
        records.append(dict(base, method=name, tops=r.get("tops"), ms=r.get("kernel_ms"),
                            rel_l1=r.get("rel_l1")))
        records.append(dict(base, method=name + " e2e", tops=r.get("tops_e2e"),
                            ms=r.get("end_to_end_ms")))
    for r in load(sdpa_path):
        records.append({"method": r["method"], "batch": r["batch"], "heads": r["heads"],
                        "seqlen": r["seqlen"], "head_dim": r["head_dim"], "causal": r["causal"],
                        "tops": r.get("tops"), "ms": r.get("ms"), "detail": r.get("device")})
    with open(f"{out_dir}/results.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")

    table = defaultdict(dict)  # (D, causal, S) -> method -> tops
    methods = []
    for r in records:
        table[(r["head_dim"], r["causal"], r["seqlen"])][r["method"]] = r["tops"]
        if r["method"] not in methods:
            methods.append(r["method"])

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        dims = sorted({k[0] for k in table})
        fig, axes = plt.subplots(len(dims), 2, figsize=(12, 4.5 * len(dims)), squeeze=False)
        for i, d in enumerate(dims):
            for j, causal in enumerate((False, True)):
                ax = axes[i][j]
                for m in methods:
                    pts = sorted((k[2], v[m]) for k, v in table.items()
                                 if k[0] == d and k[1] == causal and v.get(m) is not None)
                    if pts:
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=m)
                ax.set_xscale("log", base=2)
                ax.set_title(f"D={d} {'causal' if causal else 'non-causal'}, B=4 H=32")
                ax.set_xlabel("sequence length")
                ax.set_ylabel("TOPS (4·B·H·S²·D per call, half if causal)")
                ax.grid(True, alpha=0.3)
                ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(f"{out_dir}/tops.png", dpi=110)
        print(f"chart: {out_dir}/tops.png")
    except Exception as e:  # matplotlib missing: the table still prints
        print(f"no chart ({e})")

    show = [m for m in ["intfa", "intfa e2e", "intfa sm80", "paper", "half-int8", "flash", "cudnn"]
            if m in methods]
    show += [m for m in methods if m not in show and not m.endswith(" e2e")]
    head = f"{'D':>4} {'mask':>6} {'S':>6} " + " ".join(f"{m:>10}" for m in show) + \
        f" {'intfa/fl':>9} {'intfa/cu':>9} {'sm80/fl':>9}"
    print("\nTOPS (B=4, H=32, fp16 inputs; intfa: kernel on pre-quantized inputs, e2e: quantization + attention)")
    print(head)
    print("-" * len(head))
    for key in sorted(table):
        d, causal, s = key
        row = table[key]
        cells = " ".join(f"{row[m]:>10.1f}" if row.get(m) is not None else f"{'-':>10}" for m in show)

        def ratio(a, b):
            return f"{row[a] / row[b]:>9.2f}" if row.get(a) and row.get(b) else f"{'-':>9}"
        print(f"{d:>4} {'causal' if causal else 'full':>6} {s:>6} {cells} {ratio('intfa', 'flash')} "
              f"{ratio('intfa', 'cudnn')} {ratio('intfa sm80', 'flash')}")


if __name__ == "__main__":
    main()
