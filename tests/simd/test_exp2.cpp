// The vectorized exp2 of each SIMD kernel against this process's libm exp2f
// on every float the kernels can pass it: all of [-150, 0] (about 1.1e9
// values) and -inf. Bit equality here is what makes the SIMD softmax equal
// the scalar one.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "cpu/isa.hpp"
#include "cpu/simd/kernels.hpp"
#include "simd_test_util.hpp"

namespace intfa::simd_test {
namespace {

struct Scan {
  int64_t mismatches = 0;   // vector exp2 != exp2f
  double p_fast_error = 0;  // max |255·exp2_fast - 255·exp2f|
};

Scan scan(cpu::Isa isa, const float* xs, int64_t n) {
  Scan r;
  if (isa == cpu::Isa::avx2) {
    r.mismatches = cpu::simd::exp2_mismatches_avx2(xs, n);
    r.p_fast_error = cpu::simd::p_u8_fast_error_avx2(xs, n);
  } else {
    r.mismatches = cpu::simd::exp2_mismatches_avx512(xs, n);
    r.p_fast_error = cpu::simd::p_u8_fast_error_avx512(xs, n);
  }
  return r;
}

class Exp2 : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (!cpu::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU does not support " << cpu::isa_name(GetParam());
  }
};

TEST_P(Exp2, EveryNonPositiveFloatMatchesLibm) {
  const cpu::Isa isa = GetParam();
  uint32_t hi;
  const float m150 = -150.f;
  std::memcpy(&hi, &m150, sizeof hi);
  const uint64_t lo = 0x80000000u;  // -0.0f; bits grow as values go down to -150
  const uint64_t total = hi - lo + 1;
  const int threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::atomic<int64_t> bad{0};
  std::vector<double> worst(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      constexpr int64_t kChunk = 1 << 16;
      std::vector<float> xs(kChunk);
      const uint64_t begin = lo + total * t / threads, end = lo + total * (t + 1) / threads;
      for (uint64_t b = begin; b < end; b += kChunk) {
        const int64_t n = static_cast<int64_t>(std::min<uint64_t>(kChunk, end - b));
        for (int64_t i = 0; i < n; ++i) {
          const uint32_t u = static_cast<uint32_t>(b + i);
          std::memcpy(&xs[i], &u, sizeof u);
        }
        int64_t m = n;
        for (; m % 16; ++m) xs[m] = 0.f;
        const Scan sc = scan(isa, xs.data(), m);
        bad += sc.mismatches;
        worst[static_cast<size_t>(t)] = std::max(worst[static_cast<size_t>(t)], sc.p_fast_error);
      }
    });
  for (auto& t : pool) t.join();
  EXPECT_EQ(bad.load(), 0) << "floats in [-150, 0] where the vector exp2 differs from exp2f";
  // The uint8 P fast path is exact while its error stays well below the margin.
  const double w = *std::max_element(worst.begin(), worst.end());
  std::printf("%s: max |255 exp2_fast - 255 exp2f| on [-150, 0] = %.3g (margin %.3g)\n",
              cpu::isa_name(isa), w, static_cast<double>(cpu::simd::kPFastMargin));
  EXPECT_LT(w, cpu::simd::kPFastMargin / 4);

  std::vector<float> special(16, -std::numeric_limits<float>::infinity());
  special[1] = 0.f;
  special[2] = -149.5f;
  special[3] = -1e-45f;
  EXPECT_EQ(scan(isa, special.data(), 16).mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Isa, Exp2, ::testing::ValuesIn(kVectorIsas),
                         [](const auto& p) { return std::string(cpu::isa_name(p.param)); });

}  // namespace
}  // namespace intfa::simd_test
