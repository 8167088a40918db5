#!/usr/bin/env bash
# Per-CTA timelines of the wgmma kernel (docs/PERF.md, "Where a tile's time
# goes"): builds intfa-bench with INTFA_SM90_TRACE, so every consumer
# warpgroup of the CTAs on SMs 0 and 1 prints its global-timer stamps (entry,
# Q̂ landed, first key block landed, loop done, rows finished, end), runs D = 128 intfa at
# the shapes given, and summarizes each with bench/sm90_trace_summary.py.
#   bench/sm90_trace.sh OUTDIR [Sq:Sk ...]     (default 4096:4096 16384:16384)
# The printf at the end of each consumer costs tens of µs, so the gap
# between consecutive CTAs on an SM is not meaningful; the durations inside
# a CTA are.
# TRACE_KERNEL=sm80 traces the mma.sync kernel instead (INTFA_SM80_TRACE: the
# stamps are stored per warp and printed by the launcher after the kernel, in
# the same format, one "consumer" per warp).
set -euo pipefail
OUT=${1:?usage: bench/sm90_trace.sh OUTDIR [Sq:Sk ...]}
shift
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$PATH:/usr/local/cuda/bin
KERNEL=${TRACE_KERNEL:-sm90}
case "$KERNEL" in
  sm90) FLAG=-DINTFA_SM90_TRACE ;;
  sm80) FLAG=-DINTFA_SM80_TRACE ;;
  *) echo "TRACE_KERNEL must be sm90 or sm80, not '$KERNEL'" >&2; exit 2 ;;
esac
B=/tmp/intfa-$KERNEL-trace
cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real \
  -DINTFA_BUILD_TESTS=OFF -DINTFA_BUILD_PYTHON=OFF \
  -DINTFA_CUDA_ATTENTION_CONFIGS="128 uint8_block 128 4 plain" \
  -DCMAKE_CUDA_FLAGS="$FLAG" >"$OUT/trace_configure.log" 2>&1
cmake --build "$B" -j "$(nproc)" --target intfa-bench >"$OUT/trace_build.log" 2>&1 ||
  { tail -30 "$OUT/trace_build.log"; exit 1; }
for shape in "${@:-4096:4096 16384:16384}"; do
  for s in $shape; do
    sq=${s%%:*} sk=${s##*:}
    INTFA_CUDA_KERNEL=$KERNEL "$B/tools/intfa-bench" --backend cuda --recipe intfa --batch 4 --heads 32 --seqlen-q "$sq" \
      --seqlen-k "$sk" --head-dim 128 --warmup 0 --repeats 1 --no-check >"$OUT/trace_${sq}_${sk}.txt" 2>&1
    echo "== Sq=$sq Sk=$sk"
    python3 "$ROOT/bench/sm90_trace_summary.py" "$OUT/trace_${sq}_${sk}.txt" | tee "$OUT/trace_${sq}_${sk}_summary.txt"
  done
done
