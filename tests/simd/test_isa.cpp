// ISA selection: detection, forcing, INTFA_CPU_ISA, and the errors for an ISA
// the CPU lacks or a name that is no ISA.
#include <cstdlib>
#include <string>

#include "cpu/cpu_backend.hpp"
#include "cpu/isa.hpp"
#include "simd_test_util.hpp"

namespace intfa::simd_test {
namespace {

using test::ScopedEnv;

TEST(Isa, DetectedIsSupportedAndReported) {
  const cpu::Isa d = cpu::detected_isa();
  EXPECT_TRUE(cpu::isa_supported(d));
  EXPECT_TRUE(cpu::isa_supported(cpu::Isa::scalar));
  std::printf("detected CPU ISA: %s (supported:", cpu::isa_name(d));
  for (cpu::Isa isa : kAllIsas) {
    if (cpu::isa_supported(isa)) std::printf(" %s", cpu::isa_name(isa));
  }
  std::printf(")\n");
  // The ISAs form a ladder: each one implies the ones below it.
  if (cpu::isa_supported(cpu::Isa::avx512_vnni)) {
    EXPECT_TRUE(cpu::isa_supported(cpu::Isa::avx512));
  }
  if (cpu::isa_supported(cpu::Isa::avx512)) {
    EXPECT_TRUE(cpu::isa_supported(cpu::Isa::avx2));
  }
  if (!std::getenv("INTFA_CPU_ISA")) {
    EXPECT_EQ(cpu::active_isa(), d);
  }
}

TEST(Isa, NamesRoundTrip) {
  for (cpu::Isa isa : kAllIsas) EXPECT_EQ(cpu::parse_isa(cpu::isa_name(isa)), isa);
  EXPECT_EQ(cpu::parse_isa("avx512-vnni"), cpu::Isa::avx512_vnni);
  EXPECT_EQ(cpu::parse_isa("auto"), std::nullopt);
  try {
    cpu::parse_isa("sse9");
    FAIL() << "no error for an unknown ISA name";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("sse9"), std::string::npos) << e.what();
  }
}

TEST(Isa, ForcingSupportedIsaIsUsed) {
  for (cpu::Isa isa : kAllIsas) {
    if (!cpu::isa_supported(isa)) continue;
    ForceIsa force(isa);
    EXPECT_EQ(cpu::forced_isa(), isa);
    EXPECT_EQ(cpu::active_isa(), isa);
  }
  EXPECT_EQ(cpu::forced_isa(), std::nullopt);
}

TEST(Isa, ForcingUnsupportedIsaIsAClearError) {
  bool any = false;
  for (cpu::Isa isa : kVectorIsas) {
    if (cpu::isa_supported(isa)) continue;
    any = true;
    try {
      cpu::set_forced_isa(isa);
      cpu::set_forced_isa(std::nullopt);
      FAIL() << "forcing " << cpu::isa_name(isa) << " did not fail";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::unsupported);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(cpu::isa_name(isa)), std::string::npos) << msg;
      EXPECT_NE(msg.find("does not support"), std::string::npos) << msg;
    }
    EXPECT_EQ(cpu::forced_isa(), std::nullopt) << "a failed force must not change the setting";
  }
  if (!any) GTEST_SKIP() << "this CPU supports every ISA intfa has; nothing to refuse";
}

TEST(Isa, EnvironmentVariableSelectsAndRejects) {
  {
    ScopedEnv env("INTFA_CPU_ISA", "scalar");
    EXPECT_EQ(cpu::active_isa(), cpu::Isa::scalar);
    ForceIsa force(cpu::detected_isa());  // forcing wins over the environment
    EXPECT_EQ(cpu::active_isa(), cpu::detected_isa());
  }
  {
    ScopedEnv env("INTFA_CPU_ISA", "auto");
    EXPECT_EQ(cpu::active_isa(), cpu::detected_isa());
  }
  {
    ScopedEnv env("INTFA_CPU_ISA", "bogus");
    EXPECT_THROW(cpu::active_isa(), Error);
  }
  for (cpu::Isa isa : kVectorIsas) {
    if (cpu::isa_supported(isa)) continue;
    ScopedEnv env("INTFA_CPU_ISA", cpu::isa_name(isa));
    try {
      cpu::active_isa();
      FAIL() << "INTFA_CPU_ISA=" << cpu::isa_name(isa) << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::unsupported);
      EXPECT_NE(std::string(e.what()).find("INTFA_CPU_ISA"), std::string::npos) << e.what();
    }
    // And through the public API.
    std::vector<float> x(2 * 8, 0.5f), out(2 * 8);
    const auto view = TensorView::bshd(x.data(), DType::f32, 1, 2, 1, 8);
    AttentionOptions opt;
    opt.backend = Backend::cpu;
    try {
      attention(view, view, view, TensorView::bshd(out.data(), DType::f32, 1, 2, 1, 8), nullptr,
                opt);
      FAIL() << "attention ran with INTFA_CPU_ISA=" << cpu::isa_name(isa);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::unsupported) << e.what();
    }
  }
}

TEST(Isa, VectorExp2MatchesThisLibm) {
  for (cpu::Isa isa : kVectorIsas) {
    if (!cpu::isa_supported(isa)) continue;
    EXPECT_TRUE(cpu::simd_exp2_matches_libm(isa))
        << cpu::isa_name(isa) << ": the vectorized exp2 differs from this libm's exp2f; the "
        << "kernels stay exact by calling exp2f, but are slower (docs/PERF.md, CPU back-end)";
  }
}

}  // namespace
}  // namespace intfa::simd_test
