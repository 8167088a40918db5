// The float32 flash baseline (cpu::attention_f32_flash) for every ISA this CPU
// supports against the float64 reference, within fp32 tolerance.
#include <cmath>

#include "cpu/cpu_backend.hpp"
#include "cpu/isa.hpp"
#include "simd_test_util.hpp"

namespace intfa::simd_test {
namespace {

class F32Flash : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (!cpu::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU does not support " << cpu::isa_name(GetParam());
  }
};

TEST_P(F32Flash, MatchesFloat64ReferenceWithinFp32Tolerance) {
  auto rng = rng_for_test();
  ForceIsa force(GetParam());
  for (int t = 0; t < 30; ++t) {
    Dims s = random_dims(rng);
    if (t == 0) s = {1, 2, 1, 3, 700, 512};
    if (t == 1) s = {1, 1, 1, 90, 40, 1};
    const bool causal = t % 2 == 1;
    const int32_t kv_block = t % 3 == 0 ? 0 : static_cast<int32_t>(pick(rng, 1, 100));
    SCOPED_TRACE(std::string(cpu::isa_name(GetParam())) + " " + s.str() +
                 " causal=" + std::to_string(causal) + " kv_block=" + std::to_string(kv_block));
    const auto q = normal_values(rng, s.batch * s.seqlen_q * s.heads * s.head_dim);
    const auto k = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
    const auto v = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
    const auto qv = TensorView::bshd(q.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim);
    const auto kv = TensorView::bshd(k.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
    const auto vv = TensorView::bshd(v.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
    std::vector<float> out(q.size(), NAN), lse(static_cast<size_t>(s.batch * s.heads * s.seqlen_q), NAN);
    std::vector<double> ref(q.size()), ref_lse(lse.size());
    const float scale = 1.f / std::sqrt(static_cast<float>(s.head_dim)) * (t % 4 == 3 ? 4.f : 1.f);
    cpu::attention_f32_flash(qv, kv, vv,
                             TensorView::bshd(out.data(), DType::f32, s.batch, s.seqlen_q, s.heads,
                                              s.head_dim),
                             lse.data(), causal, scale, kv_block);
    attention_reference(qv, kv, vv, ref.data(), ref_lse.data(), causal, scale);
    int64_t bad = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      const double err = std::fabs(out[i] - ref[i]);
      if (!(err <= 2e-5 + 2e-5 * std::fabs(ref[i])) && ++bad <= 3)
        ADD_FAILURE() << "out[" << i << "] " << out[i] << " reference " << ref[i];
    }
    EXPECT_EQ(bad, 0);
    for (size_t i = 0; i < lse.size(); ++i) {
      if (std::isinf(ref_lse[i])) {
        EXPECT_TRUE(std::isinf(lse[i]) && lse[i] < 0) << "lse[" << i << "] " << lse[i];
      } else {
        EXPECT_NEAR(lse[i], ref_lse[i], 2e-5 + 2e-6 * std::fabs(ref_lse[i])) << "lse[" << i << "]";
      }
    }
    if (HasFailure()) return;
  }
}

TEST_P(F32Flash, RejectsNonFloatInputs) {
  std::vector<int8_t> q8(16);
  std::vector<float> f(16), out(16);
  const auto fv = TensorView::bshd(f.data(), DType::f32, 1, 2, 1, 8);
  EXPECT_THROW(cpu::attention_f32_flash(TensorView::bshd(q8.data(), DType::i8, 1, 2, 1, 8), fv,
                                        fv, TensorView::bshd(out.data(), DType::f32, 1, 2, 1, 8),
                                        nullptr, false),
               Error);
}

INSTANTIATE_TEST_SUITE_P(Isa, F32Flash, ::testing::ValuesIn(kAllIsas),
                         [](const auto& p) { return std::string(cpu::isa_name(p.param)); });

}  // namespace
}  // namespace intfa::simd_test
