#!/usr/bin/env bash
# Side-by-side kernel timing of the working tree against a git revision (and
# optional compile-time variants of the working tree), in one process tree on
# one GPU, runs interleaved shape by shape so that clock drift hits every
# build alike (docs/PERF.md, "Versions").
#   bench/ab_compare.sh OUTDIR REF
# REF: a full commit id, a directory holding another source tree (e.g. an
# experiment exported with `git archive` into an untracked folder, which the
# GPU machine's copy of the repository receives even when its git history
# lacks the commit), or "-" for none (compare the working tree's variants and
# environments only). (On the lent GPU machine `HEAD~1` once
# named an older commit than it did here: its copy of the repository had
# another HEAD.)
# Environment:
#   AB_VARIANTS  space-separated name=CUDA-flags builds of the working tree,
#                flags separated by commas, e.g.
#                "pv128=-DINTFA_SM90_PV_CHUNK=128,-DINTFA_SM90_PV_WINDOW=1"; a
#                suffix @VAR=value runs that build with one more environment
#                variable, e.g. "c2s3=-DINTFA_SM90_STAGES=3@INTFA_SM90_CONSUMERS=2"
#   AB_ENVS      space-separated name=VAR=value runs of the working tree's
#                build with one more environment variable (set after
#                AB_KERNEL, so it wins), e.g. "mma=INTFA_CUDA_KERNEL=sm80"
#   AB_DIMS (128), AB_SEQLENS (4096,16384), AB_CAUSAL (0), AB_RECIPE (intfa),
#   AB_KERNEL (default: the back-end's choice; sm80 forces mma.sync)
#   AB_BENCH_ARGS  more intfa-bench arguments for every run, e.g. "--kv-block 256"
#   AB_FIELDS    intfa-bench JSON fields printed per build (default "tops"),
#                e.g. "tops tops_e2e quantize_ms"
#   AB_SM90_CONFIGS  INTFA_CUDA_SM90_CONFIGS for the working tree's builds
#                (default: its own list), e.g. to add an instantiation that
#                an AB_ENVS run selects with INTFA_SM90_CONSUMERS
# Only intfa-bench is built, for the GPU present, with the default sm80
# instantiation list cut to the D=64/128/256 int8 kernels to save build time
# (spelled with the 0/1 schedules that older revisions parse).
set -euo pipefail
OUT=${1:?usage: bench/ab_compare.sh OUTDIR REF}
REF=${2:?usage: bench/ab_compare.sh OUTDIR REF}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/cuda/bin
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' ')
ARCH=${CC/./}
[[ "$ARCH" == 90 ]] && ARCH=90a
SM80_CONFIGS="64 uint8_block 128 4 0;64 int8_running 64 8 0;128 uint8_block 128 4 0;128 int8_running 64 4 1;256 uint8_block 64 8 0;256 int8_running 64 8 0"

build() {  # name source-dir cuda-flags [more cmake arguments]
  local b=/tmp/ab-build-$1
  cmake -S "$2" -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$ARCH-real" \
    -DINTFA_BUILD_TESTS=OFF -DINTFA_BUILD_PYTHON=OFF -DINTFA_CUDA_ATTENTION_CONFIGS="$SM80_CONFIGS" \
    -DCMAKE_CUDA_FLAGS="$3" "${@:4}" >"$OUT/configure-$1.log" 2>&1
  cmake --build "$b" -j "$(nproc)" --target intfa-bench >"$OUT/build-$1.log" 2>&1 ||
    { tail -30 "$OUT/build-$1.log"; exit 1; }
  echo "$b/tools/intfa-bench"
}

NAMES=() BINS=() ENVS=()
if [[ -d "$REF" ]]; then
  NAMES+=(ref) BINS+=("$(build ref "$(cd "$REF" && pwd)" "")") ENVS+=("")
elif [[ "$REF" != - ]]; then
  rm -rf /tmp/ab-ref-src && mkdir -p /tmp/ab-ref-src
  git archive "$REF" | tar -x -C /tmp/ab-ref-src
  NAMES+=(ref) BINS+=("$(build ref /tmp/ab-ref-src "")") ENVS+=("")
fi
CUR_ARGS=()
[[ -n "${AB_SM90_CONFIGS:-}" ]] && CUR_ARGS=(-DINTFA_CUDA_SM90_CONFIGS="$AB_SM90_CONFIGS")
NAMES+=(cur) BINS+=("$(build cur "$ROOT" "" "${CUR_ARGS[@]}")") ENVS+=("")
CUR_BIN=${BINS[${#BINS[@]}-1]}
for v in ${AB_VARIANTS:-}; do
  NAMES+=("${v%%=*}")
  flags=${v#*=}
  run_env=""
  if [[ "$flags" == *@* ]]; then run_env=${flags#*@} flags=${flags%%@*}; fi
  BINS+=("$(build "${v%%=*}" "$ROOT" "${flags//,/ }" "${CUR_ARGS[@]}")")
  ENVS+=("$run_env")
done
for v in ${AB_ENVS:-}; do
  NAMES+=("${v%%=*}")
  BINS+=("$CUR_BIN")
  ENVS+=("${v#*=}")
done

: >"$OUT/ab.jsonl"
FIELDS=${AB_FIELDS:-tops}
printf '%-6s %-6s %-6s' D S causal | tee "$OUT/ab.txt"
for f in $FIELDS; do for n in "${NAMES[@]}"; do printf ' %14s' "$n:$f"; done; done | tee -a "$OUT/ab.txt"
echo | tee -a "$OUT/ab.txt"
for d in ${AB_DIMS:-128}; do
  for s in ${AB_SEQLENS:-4096 16384}; do
    for c in ${AB_CAUSAL:-0}; do
      flag=""
      [[ "$c" == 1 ]] && flag="--causal"
      printf '%-6s %-6s %-6s' "$d" "$s" "$c" | tee -a "$OUT/ab.txt"
      LINES=()
      for i in "${!BINS[@]}"; do
        line=$(env INTFA_CUDA_KERNEL=${AB_KERNEL:-} ${ENVS[$i]} "${BINS[$i]}" --backend cuda --recipe "${AB_RECIPE:-intfa}" \
          --batch 4 --heads 32 --seqlen-q "$s" --head-dim "$d" $flag --warmup 3 --repeats 10 \
          --check-rows 8 --json ${AB_BENCH_ARGS:-} 2>>"$OUT/bench.err" | head -1)
        echo "{\"build\":\"${NAMES[$i]}\",${line#\{}" >>"$OUT/ab.jsonl"
        LINES+=("$line")
      done
      for f in $FIELDS; do
        for line in "${LINES[@]}"; do
          printf ' %14s' "$(python3 -c "import json,sys; r=json.loads(sys.argv[1]); print(f'{r[sys.argv[2]]:.3f}')" "$line" "$f" 2>/dev/null || echo fail)"
        done
      done | tee -a "$OUT/ab.txt"
      echo | tee -a "$OUT/ab.txt"
    done
  done
done
