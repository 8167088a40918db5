#!/usr/bin/env bash
# One command on a GPU machine:
#   bench/gpu.sh OUTDIR
# 1. configures and builds build/gpu (Release, CUDA architectures from the GPU
#    present: 90a for compute capability 9.0, else e.g. 80/86/89; ninja, all
#    cores), building GoogleTest from source first when it is not installed;
# 2. runs the CUDA tests (ctest -L cuda), the CPU tests (ctest -L cpu: the
#    host CPU's AVX-512 paths where it has them) and the Python package's
#    pytest suite on the GPU (torch CUDA tensors, opcheck, torch.compile)
#    against the extension built in the same tree;
# 3. runs compute-sanitizer memcheck and racecheck on a small test subset
#    (the attention kernels on small shapes, every quantization test);
# 4. measures the mma.sync peak rates (bench/mma_peak.cu);
# 5. benchmarks intfa (intfa-bench --backend cuda --json) against PyTorch's
#    scaled_dot_product_attention with the flash and cuDNN back-ends at B=4,
#    H=32, D in {64, 128}, S in {1k..16k}, causal and not;
# 6. writes JSON lines, a PNG chart and logs to OUTDIR and prints the table
#    (TOPS, ratios against flash and cuDNN) last.
# Environment: GPU_SH_SEQLENS, GPU_SH_DIMS, GPU_SH_CAUSAL, GPU_SH_RECIPES narrow
# the sweep; GPU_SH_SKIP="tests cpu python sanitizer bench" skips steps;
# GPU_SH_SM80=0 skips the mma.sync comparison rows on Hopper.
set -euo pipefail

OUT=${1:?usage: bench/gpu.sh OUTDIR}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=build/gpu
JOBS=$(nproc)
SEQLENS=${GPU_SH_SEQLENS:-1024,2048,4096,8192,16384}
DIMS=${GPU_SH_DIMS:-}  # default: 64,128 (and 256 on Hopper)
CAUSAL=${GPU_SH_CAUSAL:-0,1}
RECIPES=${GPU_SH_RECIPES:-intfa,paper}
SKIP=${GPU_SH_SKIP:-}
export PATH=$PATH:/usr/local/cuda/bin
skip() { [[ " $SKIP " == *" $1 "* ]]; }
# Steps that failed: the later steps still run (the benchmark is worth having
# when one test fails), and the script reports them and exits 1 at the end.
FAILURES=()
failed() { FAILURES+=("$1"); echo "FAILED: $1"; }
step() { echo; echo "=== $* ($(date +%T))"; }

# ---- GPU and architecture -------------------------------------------------
step "GPU"
nvidia-smi --query-gpu=name,compute_cap,clocks.sm,clocks.max.sm,memory.total --format=csv
GPU_CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' ')
case "$GPU_CC" in
  9.0) ARCH=90a ;;
  *) ARCH=${GPU_CC/./} ;;
esac
echo "compute capability $GPU_CC -> CMAKE_CUDA_ARCHITECTURES=$ARCH-real"
# On Hopper the default kernel is the wgmma one (src/cuda/sm90); the mma.sync
# kernel is benchmarked beside it (INTFA_CUDA_KERNEL=sm80) for comparison.
if [[ "$ARCH" == 90a ]]; then
  DIMS=${DIMS:-64,128,256}
  SM80_TOO=${GPU_SH_SM80:-1}
else
  DIMS=${DIMS:-64,128}
  SM80_TOO=0
fi

# ---- GoogleTest ---------------------------------------------------------------
GTEST_ARGS=()
if ! ls /usr/include/gtest/gtest.h /usr/local/include/gtest/gtest.h >/dev/null 2>&1; then
  SRC=""
  for d in "$ROOT/.deps/googletest" /usr/src/googletest; do
    [[ -f "$d/CMakeLists.txt" ]] && SRC=$d && break
  done
  if [[ -n "$SRC" ]]; then
    step "GoogleTest from $SRC"
    cmake -S "$SRC" -B build/gtest -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$ROOT/build/gtest-install" -DBUILD_GMOCK=OFF >/dev/null
    cmake --build build/gtest -j "$JOBS" >/dev/null
    cmake --install build/gtest >/dev/null
    GTEST_ARGS=(-DGTest_ROOT="$ROOT/build/gtest-install")
  else
    echo "GoogleTest not found: tests are skipped"
    GTEST_ARGS=(-DINTFA_BUILD_TESTS=OFF)
    SKIP="$SKIP tests sanitizer"
  fi
fi

# ---- nanobind for the Python extension ---------------------------------------------
PY_ARGS=(-DINTFA_BUILD_PYTHON=OFF)
if ! skip python; then
  if ! python3 -c "import nanobind" 2>/dev/null && ls "$ROOT"/.whl/nanobind-*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/intfa-pydeps "$ROOT"/.whl/*.whl
    export PYTHONPATH=/tmp/intfa-pydeps${PYTHONPATH:+:$PYTHONPATH}
  fi
  if python3 -c "import nanobind" 2>/dev/null; then
    PY_ARGS=(-DINTFA_BUILD_PYTHON=ON -DPython_EXECUTABLE="$(command -v python3)")
  else
    echo "nanobind not importable: Python tests are skipped"
    SKIP="$SKIP python"
  fi
fi

# ---- build ------------------------------------------------------------------------
step "configure + build ($BUILD, $JOBS jobs)"
cmake --preset gpu -DCMAKE_CUDA_ARCHITECTURES="$ARCH-real" "${PY_ARGS[@]}" \
  "${GTEST_ARGS[@]}" >"$OUT/configure.log" 2>&1 || { cat "$OUT/configure.log"; exit 1; }
# The instantiation lists are cache variables: a build folder kept from an
# older tree keeps its old list, so say which kernels this build has.
grep -E "intfa: (Hopper|no 90a)" "$OUT/configure.log" || true
TARGETS=(intfa-bench)
skip tests || TARGETS+=(intfa_cuda_tests intfa_cuda_layout_tests intfa_cuda_ptx_tests)
[[ "$ARCH" == 90a ]] && ! skip tests && TARGETS+=(intfa_sm90_ptx_tests)
skip cpu || skip tests || TARGETS+=(intfa_cpu_tests intfa_simd_tests)
skip python || TARGETS+=(_core)
/usr/bin/time -f "build: %e s" cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}" \
  >"$OUT/build.log" 2>&1 || { tail -50 "$OUT/build.log"; exit 1; }
tail -1 "$OUT/build.log"
TEST_BIN=$BUILD/tests/cuda/intfa_cuda_tests

# ---- tests ------------------------------------------------------------------------
if ! skip tests; then
  step "ctest -L cuda"
  # A labelled test binary that was not built registers only an unlabelled
  # <target>_NOT_BUILT placeholder, which -L cuda would skip without a word.
  for t in "${TARGETS[@]}"; do
    ctest --test-dir "$BUILD" -N -R "^${t}_NOT_BUILT\$" | grep -q NOT_BUILT &&
      failed "$t registered no tests (not built)"
  done
  # cuda.sass_invariants reads the kernels' SASS and needs no GPU: CI and the
  # development machine run it (~40 s of cuobjdump), so it spends no device time.
  ctest --test-dir "$BUILD" -L cuda -E '^cuda\.sass_invariants$' --output-on-failure -j 1 \
    >"$OUT/ctest.log" 2>&1 || failed "ctest -L cuda"
  tail -25 "$OUT/ctest.log"
  "$TEST_BIN" --gtest_filter='CudaAttention.Random*:CudaQuantize.Same*' 2>&1 |
    grep '\[ intfa \]' | tee -a "$OUT/ctest.log" || true
  if [[ "$ARCH" == 90a ]]; then
    # The default kernel on Hopper is the wgmma one: run the suite again on the
    # mma.sync kernel.
    step "intfa_cuda_tests with INTFA_CUDA_KERNEL=sm80 (mma.sync kernel on Hopper)"
    INTFA_CUDA_KERNEL=sm80 "$TEST_BIN" >"$OUT/ctest_sm80.log" 2>&1 ||
      failed "intfa_cuda_tests on the mma.sync kernel"
    tail -4 "$OUT/ctest_sm80.log"
  fi
fi

if ! skip cpu && ! skip tests; then
  step "ctest -L cpu (host CPU: $(grep -o -m1 -E 'avx512_vnni|avx512bw|avx2' /proc/cpuinfo | head -1))"
  ctest --test-dir "$BUILD" -L cpu -j "$JOBS" >"$OUT/ctest_cpu.log" 2>&1 || failed "ctest -L cpu"
  grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest_cpu.log" | head -20
fi

if ! skip python; then
  step "pytest tests/python (GPU, build-tree package)"
  PYTHONPATH="$ROOT/$BUILD/python/package${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
    python3 -m pytest tests/python -q -rs -p no:cacheprovider >"$OUT/pytest.log" 2>&1 || failed "pytest"
  tail -15 "$OUT/pytest.log"
fi

# ---- compute-sanitizer ---------------------------------------------------------------
if ! skip sanitizer; then
  for tool in memcheck racecheck; do
    step "compute-sanitizer --tool $tool"
    compute-sanitizer --tool "$tool" --error-exitcode 1 "$TEST_BIN" \
      --gtest_filter='CudaSanitize.*:CudaQuantize.*' >"$OUT/sanitizer_$tool.log" 2>&1 &&
      echo "$tool: clean ($(grep -c '\[       OK \]' "$OUT/sanitizer_$tool.log") tests passed)" ||
      { failed "compute-sanitizer $tool"; tail -40 "$OUT/sanitizer_$tool.log"; }
  done
fi

# ---- benchmarks ---------------------------------------------------------------------------
if ! skip bench; then
  step "mma.sync peak"
  nvcc -O3 -gencode=arch=compute_${ARCH},code=sm_${ARCH} bench/mma_peak.cu -o "$BUILD/mma_peak"
  "$BUILD/mma_peak" | tee "$OUT/mma_peak.jsonl"

  step "intfa ($RECIPES)"
  : >"$OUT/intfa.jsonl"
  for d in ${DIMS//,/ }; do
    for s in ${SEQLENS//,/ }; do
      for c in ${CAUSAL//,/ }; do
        flag=""
        [[ "$c" == 1 ]] && flag="--causal"
        "$BUILD/tools/intfa-bench" --backend cuda --recipe "$RECIPES" --batch 4 --heads 32 \
          --seqlen-q "$s" --head-dim "$d" $flag --warmup 3 --repeats 10 --check-rows 8 --json \
          >>"$OUT/intfa.jsonl" 2>>"$OUT/intfa.err" || echo "intfa-bench failed: D=$d S=$s causal=$c"
        if [[ "$SM80_TOO" == 1 ]]; then
          INTFA_CUDA_KERNEL=sm80 "$BUILD/tools/intfa-bench" --backend cuda --recipe intfa --batch 4 \
            --heads 32 --seqlen-q "$s" --head-dim "$d" $flag --warmup 3 --repeats 10 --check-rows 8 \
            --json 2>>"$OUT/intfa.err" | sed 's/^{/{"kernel":"sm80",/' >>"$OUT/intfa.jsonl" ||
            echo "intfa-bench (sm80) failed: D=$d S=$s causal=$c"
        fi
      done
    done
  done
  tail -n 2 "$OUT/intfa.jsonl"

  step "PyTorch SDPA (flash, cuDNN)"
  PYTHONUNBUFFERED=1 python3 bench/sdpa_bench.py --head-dims "$DIMS" --seqlens "$SEQLENS" \
    --causal "$CAUSAL" >"$OUT/sdpa.jsonl" 2>"$OUT/sdpa.err" || { echo "sdpa_bench failed"; tail "$OUT/sdpa.err"; }

  step "report"
  python3 bench/gpu_report.py "$OUT" "$OUT/intfa.jsonl" "$OUT/sdpa.jsonl" | tee "$OUT/table.txt"
fi

if ((${#FAILURES[@]})); then
  echo
  echo "=== ${#FAILURES[@]} step(s) FAILED:"
  printf '  %s\n' "${FAILURES[@]}"
  exit 1
fi
echo
echo "=== every step that ran passed"
