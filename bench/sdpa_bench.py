#!/usr/bin/env python3
"""PyTorch scaled_dot_product_attention timings for bench/gpu.sh.

Flash (FlashAttention-2 in PyTorch) and cuDNN back-ends, fp16 inputs
[B, H, S, D] from torch.randn, CUDA events around each call, median of many
repeats. One JSON line per (method, shape) on stdout:
  {"method", "batch", "heads", "seqlen", "head_dim", "causal", "ms", "tops", ...}
Throughput = 4*B*H*S*S*D per call, half for causal (is_causal with Sq == Sk is
the same mask as intfa's bottom-right alignment).
"""
import argparse
import json
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

METHODS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


def time_ms(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    stops = [torch.cuda.Event(enable_timing=True) for _ in range(repeats)]
    for start, stop in zip(starts, stops):
        start.record()
        fn()
        stop.record()
    torch.cuda.synchronize()
    return statistics.median(a.elapsed_time(b) for a, b in zip(starts, stops))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--seqlens", default="1024,2048,4096,8192,16384")
    ap.add_argument("--causal", default="0,1")
    ap.add_argument("--methods", default="flash,cudnn")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    device = torch.cuda.get_device_name()
    torch.manual_seed(0)
    for d in (int(x) for x in args.head_dims.split(",")):
        for s in (int(x) for x in args.seqlens.split(",")):
            shape = (args.batch, args.heads, s, d)
            q, k, v = (torch.randn(shape, device="cuda", dtype=torch.float16) for _ in range(3))
            for causal in (bool(int(x)) for x in args.causal.split(",")):
                ops = 4.0 * args.batch * args.heads * s * s * d * (0.5 if causal else 1.0)
                for method in args.methods.split(","):
                    rec = {"method": method, "batch": args.batch, "heads": args.heads,
                           "seqlen": s, "head_dim": d, "causal": causal, "device": device,
                           "torch": torch.__version__}
                    try:
                        with sdpa_kernel(METHODS[method]):
                            fn = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal)
                            ms = time_ms(fn, args.warmup, args.repeats)
                        rec.update(ms=ms, tops=ops / (ms * 1e-3) / 1e12)
                    except RuntimeError as e:  # back-end not available for this shape
                        rec.update(ms=None, tops=None, error=str(e).splitlines()[0][:200])
                    print(json.dumps(rec), flush=True)
            del q, k, v
            torch.cuda.empty_cache()


if __name__ == "__main__":
    sys.exit(main())
