// AVX-512 (F + BW) builds of the INT8 kernel (int16 vpmaddwd words, 16 query
// rows per vector) and of the float32 flash baseline. The VNNI build of the
// INT8 kernel is avx512_vnni.cpp.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/numeric.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/simd/exp2_data.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/simd/target.hpp"
#include "cpu/softmax_row.hpp"
#include "intfa/params.hpp"

#if INTFA_SIMD_X86
// GCC 12's AVX-512 intrinsics initialize their "undefined" vectors from
// themselves, which -Wuninitialized flags once inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

INTFA_SIMD_TARGET_BEGIN("avx2,fma,f16c,avx512f,avx512bw")

#define INTFA_SIMD_NS avx512
#include "cpu/simd/avx512_traits.hpp"
#include "cpu/simd/f32_kernel.hpp"
#include "cpu/simd/int_kernel.hpp"
#undef INTFA_SIMD_NS

namespace intfa::cpu::simd {

using Avx512Bw = avx512::Avx512<false>;

int64_t exp2_mismatches_avx512(const float* xs, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i + 16 <= n; i += 16) {
    alignas(64) float y[16];
    _mm512_store_ps(y, Avx512Bw::exp2_vector(_mm512_loadu_ps(xs + i)));
    for (int k = 0; k < 16; ++k) {
      const float ref = exp2f(xs[i + k]);
      if (std::memcmp(&ref, &y[k], sizeof ref) != 0) ++bad;
    }
  }
  return bad;
}

bool exp2_vector_ok_avx512() {
  static const bool ok = [] {
    std::vector<float> xs(static_cast<size_t>(exp2_check_sample(nullptr, 0)));
    const int64_t n = exp2_check_sample(xs.data(), static_cast<int64_t>(xs.size()));
    return exp2_mismatches_avx512(xs.data(), n) == 0;
  }();
  return ok;
}

double p_u8_fast_error_avx512(const float* xs, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i + 16 <= n; i += 16) {
    alignas(64) float y[16];
    _mm512_store_ps(y, _mm512_mul_ps(Avx512Bw::exp2_fast(_mm512_loadu_ps(xs + i)),
                                     _mm512_set1_ps(255.f)));
    for (int k = 0; k < 16; ++k)
      worst = std::max(worst, std::fabs(static_cast<double>(y[k]) - exp2f(xs[i + k]) * 255.f));
  }
  return worst;
}

void attention_int_avx512(const AttentionParams& p) {
  if (!exp2_vector_ok_avx512()) Avx512Bw::use_vector_exp2.store(false, std::memory_order_relaxed);
  avx512::attention_int<Avx512Bw>(p);
}

void attention_f32_avx512(const AttentionParams& p) { avx512::attention_f32<Avx512Bw>(p); }

}  // namespace intfa::cpu::simd

INTFA_SIMD_TARGET_END

#else

namespace intfa::cpu::simd {
[[noreturn]] static void no_avx512() {
  throw Error(StatusCode::unsupported, "this build of intfa has no AVX-512 kernels");
}
void attention_int_avx512(const AttentionParams&) { no_avx512(); }
void attention_f32_avx512(const AttentionParams&) { no_avx512(); }
int64_t exp2_mismatches_avx512(const float*, int64_t) { no_avx512(); }
bool exp2_vector_ok_avx512() { return false; }
double p_u8_fast_error_avx512(const float*, int64_t) { no_avx512(); }
}  // namespace intfa::cpu::simd

#endif
