// cpu_peak: measured peak throughput of the instructions the CPU kernels are
// built on, on 1 and N threads (N = INTFA_NUM_THREADS or all hardware threads).
//
//   vpmaddwd ymm      16 int16 MACs (32 int ops) per instruction   (AVX2 INT8 path)
//   vpmaddwd+vpaddd   the accumulate pattern the AVX2 kernel uses (same op count)
//   vpmaddwd zmm      32 MACs (64 ops)                              (AVX-512BW path)
//   vpdpbusd zmm      64 u8·s8 MACs (128 ops)                       (AVX-512 VNNI path)
//   vfmadd231ps ymm   8 fp32 FMAs (16 flops)                        (f32 flash baseline)
//   vfmadd231ps zmm   16 fp32 FMAs (32 flops)
//
// Each loop runs 12 independent accumulator chains, far more than
// latency × throughput, so the numbers are issue-bound. Ops count a
// multiply-add as 2. Build: see bench/CMakeLists.txt (or by hand:
//   g++ -O2 -std=c++17 bench/cpu_peak.cpp -o cpu_peak -lpthread).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <thread>
#include <vector>

namespace {

constexpr int64_t kIters = 50'000'000;  // loop trips of 12 instructions

// The loops are inline assembly so that the instruction stream is exactly the
// one measured (compilers spill or hoist such synthetic loops).
#define INTFA_X12(OP) \
  OP "0\n" OP "1\n" OP "2\n" OP "3\n" OP "4\n" OP "5\n" OP "6\n" OP "7\n" OP "8\n" OP "9\n" \
  OP "10\n" OP "11\n"

// 12 independent vpmaddwd: pure issue throughput.
__attribute__((target("avx2"))) void loop_madd_ymm(int64_t iters) {
  __asm__ volatile(
      "vpxor %%ymm12, %%ymm12, %%ymm12\n vpxor %%ymm13, %%ymm13, %%ymm13\n"
      "1:\n" INTFA_X12("vpmaddwd %%ymm12, %%ymm13, %%ymm")
      "dec %0\n jnz 1b\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

// The accumulate pattern of the AVX2 kernel: acc += vpmaddwd(a, b), 6 accumulators,
// 12 vpmaddwd + 12 vpaddd per trip.
__attribute__((target("avx2"))) void loop_madd_add_ymm(int64_t iters) {
#define INTFA_MA(t, acc) "vpmaddwd %%ymm12, %%ymm13, %%ymm" #t "\n vpaddd %%ymm" #t ", %%ymm" #acc ", %%ymm" #acc "\n"
  __asm__ volatile(
      "vpxor %%ymm12, %%ymm12, %%ymm12\n vpxor %%ymm13, %%ymm13, %%ymm13\n"
      "1:\n" INTFA_MA(0, 6) INTFA_MA(1, 7) INTFA_MA(2, 8) INTFA_MA(3, 9) INTFA_MA(4, 10)
          INTFA_MA(5, 11) INTFA_MA(0, 6) INTFA_MA(1, 7) INTFA_MA(2, 8) INTFA_MA(3, 9)
              INTFA_MA(4, 10) INTFA_MA(5, 11)
      "dec %0\n jnz 1b\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
#undef INTFA_MA
}

// 12 FMA chains (latency 4-5 × 2/cycle < 12: throughput-bound).
__attribute__((target("avx2,fma"))) void loop_fma_ymm(int64_t iters) {
  __asm__ volatile(
      "vxorps %%ymm12, %%ymm12, %%ymm12\n vxorps %%ymm13, %%ymm13, %%ymm13\n"
      "1:\n" INTFA_X12("vfmadd231ps %%ymm12, %%ymm13, %%ymm")
      "dec %0\n jnz 1b\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

__attribute__((target("avx512f,avx512bw"))) void loop_madd_zmm(int64_t iters) {
  __asm__ volatile(
      "vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n"
      "1:\n" INTFA_X12("vpmaddwd %%zmm12, %%zmm13, %%zmm")
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

// vpdpbusd accumulates into its destination: 12 chains.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void loop_dpbusd_zmm(int64_t iters) {
  __asm__ volatile(
      "vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n"
      "1:\n" INTFA_X12("vpdpbusd %%zmm12, %%zmm13, %%zmm")
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

__attribute__((target("avx512f"))) void loop_fma_zmm(int64_t iters) {
  __asm__ volatile(
      "vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n"
      "1:\n" INTFA_X12("vfmadd231ps %%zmm12, %%zmm13, %%zmm")
      "dec %0\n jnz 1b\n vzeroupper\n"
      : "+r"(iters)::"xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
        "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "cc");
}

int thread_count() {
  if (const char* env = std::getenv("INTFA_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Runs fn on `threads` threads at once; returns instructions per second summed.
double measure(const std::function<void(int64_t)>& fn, int threads) {
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    std::vector<std::thread> pool;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { fn(kIters); });
    for (auto& t : pool) t.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 12.0 * kIters * threads / s);
  }
  return best;
}

void report(const char* name, const std::function<void(int64_t)>& fn, double ops_per_insn,
            const char* unit, int threads) {
  const double one = measure(fn, 1);
  const double all = measure(fn, threads);
  std::printf("%-18s 1 thread: %7.2f G insn/s = %7.1f %s   %d threads: %7.2f G insn/s = %7.1f %s\n",
              name, one / 1e9, one * ops_per_insn / 1e9, unit, threads, all / 1e9,
              all * ops_per_insn / 1e9, unit);
}

}  // namespace

int main() {
  __builtin_cpu_init();
  const int threads = thread_count();
  std::printf("cpu_peak: %d threads; ops count a multiply-add as 2\n", threads);
  if (__builtin_cpu_supports("avx2")) {
    report("vpmaddwd ymm", loop_madd_ymm, 32, "GOPS", threads);
    report("vpmaddwd+vpaddd", loop_madd_add_ymm, 32, "GOPS", threads);  // per vpmaddwd
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    report("vfmadd231ps ymm", loop_fma_ymm, 16, "GFLOPS", threads);
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")) {
    report("vpmaddwd zmm", loop_madd_zmm, 64, "GOPS", threads);
    report("vfmadd231ps zmm", loop_fma_zmm, 32, "GFLOPS", threads);
  } else {
    std::printf("vpmaddwd zmm       skipped: this CPU has no AVX-512BW\n");
  }
  if (__builtin_cpu_supports("avx512vnni"))
    report("vpdpbusd zmm", loop_dpbusd_zmm, 128, "GOPS", threads);
  else
    std::printf("vpdpbusd zmm       skipped: this CPU has no AVX-512 VNNI\n");
  return 0;
}
