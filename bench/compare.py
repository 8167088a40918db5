#!/usr/bin/env python3
"""Times intfa against PyTorch SDPA and, when importable, other 8-bit
attention packages. Writes one JSON object per measurement (JSON lines) and a
PNG chart (matplotlib, when installed).

On a CUDA machine (torch with CUDA and an intfa built with CUDA):
  B=4, H=32, D in {64, 128}, S in {1k, 2k, 4k, 8k, 16k}, causal and not, fp16
  inputs in the FlashAttention layout [B, S, H, D] (every implementation reads
  the same memory; torch's [B, H, S, D] is a transposed view of it);
  implementations:
    intfa            intfa.attention: quantization + INT8 attention (end to end)
    intfa-kernel     intfa.attention_quantized on pre-quantized inputs
    torch-flash      torch SDPA, SDPBackend.FLASH_ATTENTION
    torch-cudnn      torch SDPA, SDPBackend.CUDNN_ATTENTION
    sageattention    sageattention.sageattn (INT8 QK, fp8/fp16 PV), if importable
    fa3-fp8          flash_attn_interface.flash_attn_func on float8_e4m3fn, if importable
  Time: CUDA events around each call, `--iters` calls after `--warmup`, the
  median (and min) in milliseconds; TFLOP/s counts 4·B·H·Sq·Sk·D (half of it
  when causal). Accuracy: relative L1 of each output against torch-flash on
  the same inputs.

Without CUDA: intfa's CPU back-end against torch's CPU SDPA (fp32) at
B=1, H=16, S=4096, D=128 when torch is importable (intfa alone otherwise),
timed with time.perf_counter.

    python3 bench/compare.py                       # full sweep, results in build/bench/
    python3 bench/compare.py --quick               # S in {1k, 4k}, fewer iterations
    python3 bench/compare.py --seqs 2048 --dims 128 --no-causal
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import intfa

try:
    import torch
except ImportError:  # CPU-only comparison without torch
    torch = None

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=None, help="default 4 (CUDA), 1 (CPU)")
    p.add_argument("--heads", type=int, default=None, help="default 32 (CUDA), 16 (CPU)")
    p.add_argument("--dims", type=int, nargs="+", default=None, help="default 64 128 (CUDA)")
    p.add_argument("--seqs", type=int, nargs="+", default=None,
                   help="default 1024 2048 4096 8192 16384 (CUDA), 4096 (CPU)")
    p.add_argument("--causal", dest="causal", action="store_const", const=[True])
    p.add_argument("--no-causal", dest="causal", action="store_const", const=[False])
    p.add_argument("--recipe", default="intfa", help="intfa recipe (default intfa)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--iters", type=int, default=None)
    p.add_argument("--quick", action="store_true", help="S in {1k, 4k}, fewer iterations")
    p.add_argument("--impls", nargs="+", default=None,
                   help="subset of intfa intfa-kernel torch-flash torch-cudnn sageattention "
                        "fa3-fp8 (CUDA) or intfa torch-cpu (CPU)")
    p.add_argument("--out", default=os.path.join(REPO, "build", "bench", "compare.jsonl"),
                   help="JSON lines output (default build/bench/compare.jsonl)")
    p.add_argument("--png", default=None, help="chart path (default: --out with .png)")
    p.add_argument("--cpu", action="store_true", help="force the CPU comparison")
    return p.parse_args()


def flops(b, h, sq, sk, d, causal):
    f = 4.0 * b * h * sq * sk * d
    return f / 2 if causal else f


# ---- CUDA --------------------------------------------------------------------------
def cuda_impls(recipe, wanted):
    """name -> (prepare(q, k, v, causal) -> zero-argument callable returning [B, S, H, D])."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    sdpa = torch.nn.functional.scaled_dot_product_attention
    impls = {}

    def intfa_e2e(q, k, v, causal):
        return lambda: intfa.attention(q, k, v, causal=causal, recipe=recipe)

    def intfa_kernel(q, k, v, causal):
        qi = intfa.quantize(q, k, v, recipe=recipe)
        return lambda: intfa.attention_quantized(qi, causal=causal)

    def torch_backend(backend):
        def prepare(q, k, v, causal):
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))  # [B, H, S, D] views

            def run():
                with sdpa_kernel(backend):
                    return sdpa(qt, kt, vt, is_causal=causal).transpose(1, 2)
            return run
        return prepare

    impls["intfa"] = intfa_e2e
    impls["intfa-kernel"] = intfa_kernel
    impls["torch-flash"] = torch_backend(SDPBackend.FLASH_ATTENTION)
    impls["torch-cudnn"] = torch_backend(SDPBackend.CUDNN_ATTENTION)
    try:
        from sageattention import sageattn

        def sage(q, k, v, causal):
            return lambda: sageattn(q, k, v, tensor_layout="NHD", is_causal=causal)
        impls["sageattention"] = sage
    except Exception as e:  # noqa: BLE001
        print(f"compare: sageattention not importable ({type(e).__name__}): skipped")
    try:
        import flash_attn_interface

        def fa3_fp8(q, k, v, causal):
            f8 = torch.float8_e4m3fn
            descale = []
            conv = []
            for x in (q, k, v):  # per-tensor scales, as FlashAttention-3's FP8 path
                s = (x.abs().amax().float() / 448.0).clamp(min=1e-12)
                conv.append((x / s).to(f8))
                descale.append(s.reshape(1, 1).expand(x.shape[0], x.shape[2]).contiguous())
            q8, k8, v8 = conv

            def run():
                out = flash_attn_interface.flash_attn_func(
                    q8, k8, v8, causal=causal, q_descale=descale[0], k_descale=descale[1],
                    v_descale=descale[2])
                return out[0] if isinstance(out, tuple) else out
            return run
        impls["fa3-fp8"] = fa3_fp8
    except Exception as e:  # noqa: BLE001
        print(f"compare: flash_attn_interface not importable ({type(e).__name__}): skipped")
    if wanted:
        impls = {k: v for k, v in impls.items() if k in wanted}
    return impls


def time_cuda(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        events.append((start, end))
    torch.cuda.synchronize()
    return [s.elapsed_time(e) for s, e in events]


def rel_l1(x, ref):
    x, ref = x.float(), ref.float()
    return ((x - ref).abs().sum() / ref.abs().sum()).item()


def run_cuda(args, emit):
    b = args.batch or 4
    h = args.heads or 32
    dims = args.dims or [64, 128]
    seqs = args.seqs or ([1024, 4096] if args.quick else [1024, 2048, 4096, 8192, 16384])
    causals = args.causal or [False, True]
    warmup = args.warmup if args.warmup is not None else (2 if args.quick else 5)
    iters = args.iters if args.iters is not None else (5 if args.quick else 20)
    impls = cuda_impls(args.recipe, args.impls)
    device = torch.cuda.get_device_name()
    print(f"compare: {device}, B={b} H={h} D={dims} S={seqs} causal={causals}, "
          f"{warmup} warm-up + {iters} timed calls, impls {list(impls)}")
    gen = torch.Generator(device="cuda").manual_seed(0)
    for d in dims:
        for s in seqs:
            shape = (b, s, h, d)
            try:
                q, k, v = (torch.randn(shape, device="cuda", dtype=torch.float16, generator=gen)
                           for _ in range(3))
            except torch.cuda.OutOfMemoryError:
                print(f"compare: out of memory allocating {shape}: skipped")
                continue
            for causal in causals:
                ref = None
                for name, prepare in impls.items():
                    rec = {"impl": name, "device": device, "B": b, "H": h, "S": s, "D": d,
                           "causal": causal, "dtype": "float16",
                           "recipe": args.recipe if name.startswith("intfa") else None}
                    try:
                        fn = prepare(q, k, v, causal)
                        out = fn()
                        if name == "torch-flash":
                            ref = out
                        ms = time_cuda(fn, warmup, iters)
                        med = statistics.median(ms)
                        rec.update(ms_median=med, ms_min=min(ms), iters=iters,
                                   tflops=flops(b, h, s, s, d, causal) / (med * 1e-3) / 1e12)
                        if ref is not None and name != "torch-flash":
                            rec["rel_l1_vs_torch_flash"] = rel_l1(out, ref)
                        del out
                    except Exception as e:  # noqa: BLE001  (one failure must not stop the sweep)
                        rec["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:300]
                        torch.cuda.synchronize()
                    emit(rec)
            del q, k, v
            torch.cuda.empty_cache()


# ---- CPU ---------------------------------------------------------------------------
def time_cpu(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def run_cpu(args, emit):
    b = args.batch or 1
    h = args.heads or 16
    dims = args.dims or [128]
    seqs = args.seqs or ([1024] if args.quick else [4096])
    causals = args.causal or [False, True]
    warmup = args.warmup if args.warmup is not None else 1
    iters = args.iters if args.iters is not None else (2 if args.quick else 3)
    threads = os.cpu_count()
    print(f"compare: CPU ({platform.processor() or platform.machine()}, {threads} threads), "
          f"B={b} H={h} D={dims} S={seqs}, torch: {torch.__version__ if torch else 'absent'}")
    rng = np.random.default_rng(0)
    for d in dims:
        for s in seqs:
            q, k, v = (rng.standard_normal((b, s, h, d)).astype(np.float32) for _ in range(3))
            for causal in causals:
                impls = {"intfa": lambda: intfa.attention(q, k, v, causal=causal,
                                                          recipe=args.recipe)}
                if torch is not None:
                    tq, tk, tv = (torch.from_numpy(x).transpose(1, 2) for x in (q, k, v))
                    impls["torch-cpu"] = lambda: torch.nn.functional.scaled_dot_product_attention(
                        tq, tk, tv, is_causal=causal).transpose(1, 2)
                if args.impls:
                    impls = {k_: f for k_, f in impls.items() if k_ in args.impls}
                ref = None
                for name, fn in impls.items():
                    rec = {"impl": name, "device": "cpu", "threads": threads, "B": b, "H": h,
                           "S": s, "D": d, "causal": causal, "dtype": "float32",
                           "recipe": args.recipe if name == "intfa" else None}
                    out = fn()
                    out = out.numpy() if torch is not None and isinstance(out, torch.Tensor) \
                        else out
                    if name == "torch-cpu":
                        ref = out
                    ms = time_cpu(fn, warmup, iters)
                    med = statistics.median(ms)
                    rec.update(ms_median=med, ms_min=min(ms), iters=iters,
                               gflops=flops(b, h, s, s, d, causal) / (med * 1e-3) / 1e9)
                    emit(rec)
                    if name == "intfa":
                        intfa_out = out
                if ref is not None and "intfa" in impls:
                    err = float(np.abs(intfa_out - ref).sum() / np.abs(ref).sum())
                    print(f"  intfa vs torch-cpu: relative L1 {err:.4g}")


# ---- chart ---------------------------------------------------------------------------
def chart(records, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("compare: matplotlib is not installed: no chart (the JSON lines have every number)")
        return
    ok = [r for r in records if "ms_median" in r]
    if not ok:
        return
    metric = "tflops" if "tflops" in ok[0] else "gflops"
    panels = sorted({(r["D"], r["causal"]) for r in ok})
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, (d, causal) in zip(axes[0], panels):
        rows = [r for r in ok if r["D"] == d and r["causal"] == causal]
        for impl in dict.fromkeys(r["impl"] for r in rows):
            pts = sorted((r["S"], r[metric]) for r in rows if r["impl"] == impl)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=impl)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("sequence length")
        ax.set_ylabel("TFLOP/s" if metric == "tflops" else "GFLOP/s")
        ax.set_title(f"D={d}, {'causal' if causal else 'non-causal'}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    dev = ok[0]["device"]
    fig.suptitle(f"intfa vs attention baselines, {dev}, B={ok[0]['B']} H={ok[0]['H']}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"compare: chart written to {path}")


def main():
    args = parse_args()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    records = []
    meta = {"intfa": intfa.__version__, "torch": torch.__version__ if torch else None,
            "python": platform.python_version()}
    with open(args.out, "w") as f:
        def emit(rec):
            rec = {**rec, **meta}
            records.append(rec)
            f.write(json.dumps(rec) + "\n")
            f.flush()
            if "error" in rec:
                print(f"  {rec['impl']:<14} D={rec['D']:<4} S={rec['S']:<6} "
                      f"causal={rec['causal']!s:<5} ERROR {rec['error']}")
            else:
                rate = (f"{rec['tflops']:7.1f} TFLOP/s" if "tflops" in rec
                        else f"{rec['gflops']:7.1f} GFLOP/s")
                acc = (f"  rel-L1 vs flash {rec['rel_l1_vs_torch_flash']:.4f}"
                       if "rel_l1_vs_torch_flash" in rec else "")
                print(f"  {rec['impl']:<14} D={rec['D']:<4} S={rec['S']:<6} "
                      f"causal={rec['causal']!s:<5} {rec['ms_median']:9.3f} ms {rate}{acc}")

        use_cuda = (not args.cpu and torch is not None and torch.cuda.is_available()
                    and intfa.cuda_available())
        if not args.cpu and torch is not None and torch.cuda.is_available() \
                and not intfa.cuda_available():
            print("compare: torch sees a GPU but this intfa has no CUDA back-end "
                  f"(built with CUDA: {intfa.built_with_cuda}): comparing on the CPU")
        (run_cuda if use_cuda else run_cpu)(args, emit)
    print(f"compare: {len(records)} results written to {args.out}")
    chart(records, args.png or os.path.splitext(args.out)[0] + ".png")
    return 0 if all("error" not in r for r in records if r["impl"].startswith("intfa")) else 1


if __name__ == "__main__":
    sys.exit(main())
