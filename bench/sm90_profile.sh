#!/usr/bin/env bash
# Where the Hopper kernel spends its issue slots (docs/PERF.md): builds
# intfa-bench for sm_90a, dumps the SASS of the kernels, and profiles one
# attention call with Nsight Compute (hardware counters, clocks left alone)
# with per-instruction warp-stall sampling. Writes to OUTDIR:
#   sass.txt        the SASS of every sm_90a kernel of the library
#   details.txt     ncu's section report (issue, warp states, pipes)
#   source.csv      per-SASS-instruction stall samples
#   summary.txt     stall samples by reason, by opcode and the hottest instructions
#   bench/sm90_profile.sh OUTDIR [head dim] [seqlen] [recipe]
set -euo pipefail
OUT=${1:?usage: bench/sm90_profile.sh OUTDIR [head dim] [seqlen] [recipe]}
DIM=${2:-128}
SEQ=${3:-4096}
RECIPE=${4:-intfa}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/cuda/bin
B=build/profile
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real \
  -DINTFA_BUILD_TESTS=OFF -DINTFA_BUILD_PYTHON=OFF >"$OUT/configure.log" 2>&1
cmake --build "$B" -j "$(nproc)" --target intfa-bench >"$OUT/build.log" 2>&1 ||
  { tail -30 "$OUT/build.log"; exit 1; }
for o in "$B"/src/cuda/CMakeFiles/intfa_cuda_sm90.dir/generated/*.o; do
  echo "=== $(basename "$o")"
  cuobjdump -sass "$o"
done >"$OUT/sass.txt"

ncu --clock-control none --set full --import-source yes -k regex:attention_kernel -c 1 \
  -f -o "$OUT/profile" "$B/tools/intfa-bench" --backend cuda --recipe "$RECIPE" --batch 4 \
  --heads 32 --seqlen-q "$SEQ" --head-dim "$DIM" --warmup 0 --repeats 1 --check-rows 0 \
  >"$OUT/ncu.log" 2>&1 || { tail -20 "$OUT/ncu.log"; exit 1; }
ncu --import "$OUT/profile.ncu-rep" --page details >"$OUT/details.txt"
ncu --import "$OUT/profile.ncu-rep" --page source --print-source sass --csv >"$OUT/source.csv" ||
  echo "source page export failed"
ncu --import "$OUT/profile.ncu-rep" --page raw >"$OUT/raw.txt"
{
  python3 bench/sm90_stalls.py "$OUT/source.csv"
  echo; echo "stall reasons (warp samples, whole kernel):"
  grep -E "smsp__pcsamp_warps_issue_stalled_[a-z_]+ " "$OUT/raw.txt" | grep -v "not_issued" | sort -k3 -n -r | head -25
} | tee "$OUT/summary.txt"
grep -E "Eligible|Issued Warp|No Eligible|Warp Cycles Per Issued|Active Warps Per|Registers Per|Duration|SM Frequency" \
  "$OUT/details.txt" | head -20
