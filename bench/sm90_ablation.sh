#!/usr/bin/env bash
# Timing ablations of the Hopper kernel (docs/PERF.md): builds intfa-bench once
# per INTFA_SM90_ABLATION value (0 = the real kernel, 1 = no exponential,
# 2 = no Q̂·K̂ᵀ wgmma, 3 = no P̂·V̂ wgmma; results of 1-3 are wrong by design)
# and prints the kernel-only TOPS of each at B=4, H=32, non-causal.
#   bench/sm90_ablation.sh OUTDIR [ablations] [head dims] [seqlen]
set -euo pipefail
OUT=${1:?usage: bench/sm90_ablation.sh OUTDIR [ablations] [head dims] [seqlen]}
ABLATIONS=${2:-0,1,2,3}
DIMS=${3:-128}
SEQ=${4:-8192}
mkdir -p "$OUT"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/cuda/bin
for a in ${ABLATIONS//,/ }; do
  b=build/ablation$a
  cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real \
    -DINTFA_BUILD_TESTS=OFF -DCMAKE_CUDA_FLAGS="-DINTFA_SM90_ABLATION=$a" >"$OUT/configure$a.log" 2>&1
  cmake --build "$b" -j "$(nproc)" --target intfa-bench >"$OUT/build$a.log" 2>&1 ||
    { tail -30 "$OUT/build$a.log"; exit 1; }
  for d in ${DIMS//,/ }; do
    "$b/tools/intfa-bench" --backend cuda --recipe intfa --batch 4 --heads 32 --seqlen-q "$SEQ" \
      --head-dim "$d" --warmup 3 --repeats 10 --check-rows 8 --json 2>/dev/null |
      python3 -c "import json,sys; r=json.loads(sys.stdin.readline()); print(f'ablation $a D=$d S=$SEQ: {r[\"tops\"]:.1f} TOPS kernel {r[\"kernel_ms\"]:.3f} ms rel_l1 {r[\"rel_l1\"]:.4f} ({r[\"detail\"]})')" |
      tee -a "$OUT/ablation.txt"
  done
done
