// AVX2 (+FMA, F16C) builds of the INT8 kernel and the float32 flash baseline.
//
// Integer products: vpmaddwd on int16 words (two 8-bit operands sign- or
// zero-extended), so both products are exact for any int8 Q̂/K̂/V̂ (even -128)
// and u8 P̂: |a0·b0 + a1·b1| <= 2·128·255 fits int32 with room to spare. The
// narrower vpmaddubsw is not used: its int16 pair sum saturates for u8 P̂ ×
// s8 V̂ (255·127·2 = 64770 > 32767) and needs a sign fix-up for s8 × s8 that
// costs as much as it saves (docs/PERF.md, CPU back-end).
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
#include <immintrin.h>

INTFA_SIMD_TARGET_BEGIN("avx2,fma,f16c")

namespace intfa::cpu::simd::avx2 {

struct Avx2 {
  static constexpr int L = 8;   // rows per vector
  static constexpr int G = 2;   // 8-bit operands per 32-bit word (int16 pairs)
  static constexpr bool kVnni = false;
  static constexpr int32_t kQPadWord = 0;
  static constexpr int Cj = 4;  // keys per QK micro-tile (2 × 4 accumulators)
  static constexpr int Cd = 4;  // channels per PV micro-tile
  using I = __m256i;
  using F = __m256;
  using M = __m256i;  // lane mask, all ones where true

  static INTFA_SIMD_INLINE I izero() { return _mm256_setzero_si256(); }
  static INTFA_SIMD_INLINE I iload(const int32_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  static INTFA_SIMD_INLINE void istore(int32_t* p, I v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static INTFA_SIMD_INLINE I ibcast(const int32_t* p) { return _mm256_set1_epi32(*p); }
  static INTFA_SIMD_INLINE I iset1(int32_t v) { return _mm256_set1_epi32(v); }
  static INTFA_SIMD_INLINE I iadd(I a, I b) { return _mm256_add_epi32(a, b); }
  static INTFA_SIMD_INLINE I isub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static INTFA_SIMD_INLINE I ior(I a, I b) { return _mm256_or_si256(a, b); }
  // Operand e (0 or 1) of a word: P̂ values are 0..255, so shifting is packing.
  static INTFA_SIMD_INLINE I shl_lane(I q, int e) { return e == 0 ? q : _mm256_slli_epi32(q, 16); }
  // acc + Σ of the word products, exact (int16 × int16 pairs summed in int32).
  static INTFA_SIMD_INLINE I dot(I acc, I a, I b) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
  }
  static INTFA_SIMD_INLINE M igt(I a, I b) { return _mm256_cmpgt_epi32(a, b); }
  static INTFA_SIMD_INLINE I iselect(M m, I t, I f) { return _mm256_blendv_epi8(f, t, m); }

  static INTFA_SIMD_INLINE F fzero() { return _mm256_setzero_ps(); }
  static INTFA_SIMD_INLINE F fload(const float* p) { return _mm256_loadu_ps(p); }
  static INTFA_SIMD_INLINE void fstore(float* p, F v) { _mm256_storeu_ps(p, v); }
  static INTFA_SIMD_INLINE F fset1(float v) { return _mm256_set1_ps(v); }
  static INTFA_SIMD_INLINE F fadd(F a, F b) { return _mm256_add_ps(a, b); }
  static INTFA_SIMD_INLINE F fsub(F a, F b) { return _mm256_sub_ps(a, b); }
  static INTFA_SIMD_INLINE F fmul(F a, F b) { return _mm256_mul_ps(a, b); }
  static INTFA_SIMD_INLINE F fmax(F a, F b) { return _mm256_max_ps(a, b); }
  static INTFA_SIMD_INLINE F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static INTFA_SIMD_INLINE F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  // rintf (round half to even, the default MXCSR mode) then an exact convert.
  static INTFA_SIMD_INLINE I round_int(F x) {
    return _mm256_cvtps_epi32(_mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  static INTFA_SIMD_INLINE M feq(F a, F b) {
    return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_EQ_OQ));
  }
  static INTFA_SIMD_INLINE F fselect(M m, F t, F f) {
    return _mm256_blendv_ps(f, t, _mm256_castsi256_ps(m));
  }
  // numeric::round_to_fp16 (IEEE round to nearest even, subnormals kept).
  static INTFA_SIMD_INLINE F round_fp16(F x) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }

  // glibc's exp2f on 4 doubles, operation for operation (exp2_data.hpp).
  static INTFA_SIMD_INLINE __m256d exp2_core(__m256d xd) {
    const __m256d shift = _mm256_set1_pd(kExp2fShift);
    __m256d kd = _mm256_add_pd(xd, shift);
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, shift);
    const __m256d r = _mm256_sub_pd(xd, kd);
    const __m256i idx = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    __m256i t = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(kExp2fTable), idx, 8);
    t = _mm256_add_epi64(t, _mm256_slli_epi64(ki, 47));
    const __m256d s = _mm256_castsi256_pd(t);
    const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(kExp2fC0), r, _mm256_set1_pd(kExp2fC1));
    const __m256d r2 = _mm256_mul_pd(r, r);
    __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(kExp2fC2), r, _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, r2, y);
    return _mm256_mul_pd(y, s);
  }
  static INTFA_SIMD_INLINE F exp2_vector(F x) {
    const __m256d lo = exp2_core(_mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    const __m256d hi = exp2_core(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
    F y = _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(kExp2fTiny),
                         _mm256_cmp_ps(x, _mm256_set1_ps(kExp2fTinyBelow), _CMP_LT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(),
                         _mm256_cmp_ps(x, _mm256_set1_ps(kExp2fZeroBelow), _CMP_LE_OQ));
    // x >= 128 or NaN: never produced by the kernels' softmax; exp2f itself.
    const int odd = _mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(128.f), _CMP_NLT_UQ));
    if (__builtin_expect(odd != 0, 0)) y = exp2_lanes(x, y, odd);
    return y;
  }
  static __attribute__((noinline)) F exp2_lanes(F x, F y, int lanes) {
    alignas(32) float xs[8], ys[8];
    _mm256_store_ps(xs, x);
    _mm256_store_ps(ys, y);
    for (int i = 0; i < 8; ++i)
      if (lanes >> i & 1) ys[i] = exp2f(xs[i]);
    return _mm256_load_ps(ys);
  }
  static __attribute__((noinline)) F exp2_libm(F x) { return exp2_lanes(x, x, 0xff); }
  // Cleared (once, before a kernel runs) if exp2_vector ever disagreed with libm.
  static inline std::atomic<bool> use_vector_exp2{true};
  static INTFA_SIMD_INLINE F exp2(F x) {
    return __builtin_expect(use_vector_exp2.load(std::memory_order_relaxed), 1) ? exp2_vector(x)
                                                                               : exp2_libm(x);
  }

  static INTFA_SIMD_INLINE F fround(F x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static INTFA_SIMD_INLINE F fabs(F x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.f), x); }
  static INTFA_SIMD_INLINE bool any_gt(F a, F b) {
    return _mm256_movemask_ps(_mm256_cmp_ps(a, b, _CMP_GT_OQ)) != 0;
  }
  static INTFA_SIMD_INLINE I cvt_exact(F x) { return _mm256_cvttps_epi32(x); }

  // Fast float exp2 for the f32 baseline: 2^n · p(f), x = n + f, |f| <= 1/2,
  // degree-6 polynomial (rel. error ~2e-7); x < -126 gives 0.
  static INTFA_SIMD_INLINE F exp2_fast(F x) {
    const F xc = _mm256_max_ps(x, _mm256_set1_ps(-126.f));
    const F n = _mm256_round_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const F f = _mm256_sub_ps(xc, n);
    F p = _mm256_set1_ps(1.5353362e-4f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.3398874e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6181291e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5504109e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022651e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314718e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    const I e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const F y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-126.f), _CMP_LT_OQ), y);
  }

  // Packing ------------------------------------------------------------------
  // `words` int16-pair words from n int8 values (sign-extended, zero padded).
  static void pack_i8(const int8_t* src, int64_t n, int32_t* dst, int64_t words) {
    int16_t* out = reinterpret_cast<int16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_cvtepi8_epi16(b));
    }
    for (; i < n; ++i) out[i] = src[i];
    for (; i < 2 * words; ++i) out[i] = 0;
  }
  static int32_t sum_i8(const int8_t*, int64_t) { return 0; }  // VNNI only

  // The 2 × 4 integer micro-tile of both products, in assembly because GCC
  // keeps copying (and spilling) accumulator arrays:
  //   out[r][c][lane] = Σ_{t < steps} vpmaddwd(vec[t·RG + r·8 ..], bcast(b_c[t]))
  // vec advances by `vec_stride` int32 per step (the row group's width).
  static constexpr bool kAsmTile = true;
  static void tile_2x4(const int32_t* vec, int64_t vec_stride, const int32_t* b0,
                       const int32_t* b1, const int32_t* b2, const int32_t* b3, int64_t steps,
                       __m256i out[8]) {
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    if (steps > 0) {
      int64_t t = 0;
      const int64_t stride_bytes = vec_stride * 4;
      __asm__(
          "1:\n\t"
          "vmovdqu (%[v]), %%ymm8\n\t"
          "vmovdqu 32(%[v]), %%ymm9\n\t"
          "vpbroadcastd (%[b0],%[t],4), %%ymm10\n\t"
          "vpbroadcastd (%[b1],%[t],4), %%ymm11\n\t"
          "vpmaddwd %%ymm10, %%ymm8, %%ymm12\n\t"
          "vpmaddwd %%ymm10, %%ymm9, %%ymm13\n\t"
          "vpaddd %%ymm12, %[a0], %[a0]\n\t"
          "vpaddd %%ymm13, %[a4], %[a4]\n\t"
          "vpmaddwd %%ymm11, %%ymm8, %%ymm14\n\t"
          "vpmaddwd %%ymm11, %%ymm9, %%ymm15\n\t"
          "vpaddd %%ymm14, %[a1], %[a1]\n\t"
          "vpaddd %%ymm15, %[a5], %[a5]\n\t"
          "vpbroadcastd (%[b2],%[t],4), %%ymm10\n\t"
          "vpbroadcastd (%[b3],%[t],4), %%ymm11\n\t"
          "vpmaddwd %%ymm10, %%ymm8, %%ymm12\n\t"
          "vpmaddwd %%ymm10, %%ymm9, %%ymm13\n\t"
          "vpaddd %%ymm12, %[a2], %[a2]\n\t"
          "vpaddd %%ymm13, %[a6], %[a6]\n\t"
          "vpmaddwd %%ymm11, %%ymm8, %%ymm14\n\t"
          "vpmaddwd %%ymm11, %%ymm9, %%ymm15\n\t"
          "vpaddd %%ymm14, %[a3], %[a3]\n\t"
          "vpaddd %%ymm15, %[a7], %[a7]\n\t"
          "add %[stride], %[v]\n\t"
          "inc %[t]\n\t"
          "cmp %[n], %[t]\n\t"
          "jne 1b\n\t"
          : [a0] "+x"(a0), [a1] "+x"(a1), [a2] "+x"(a2), [a3] "+x"(a3), [a4] "+x"(a4),
            [a5] "+x"(a5), [a6] "+x"(a6), [a7] "+x"(a7), [v] "+r"(vec), [t] "+r"(t)
          : [b0] "r"(b0), [b1] "r"(b1), [b2] "r"(b2), [b3] "r"(b3), [n] "r"(steps),
            [stride] "r"(stride_bytes)
          : "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
    }
    out[0] = a0, out[1] = a1, out[2] = a2, out[3] = a3;
    out[4] = a4, out[5] = a5, out[6] = a6, out[7] = a7;
  }
  static INTFA_SIMD_INLINE int32_t q_word(const int8_t* e) {
    return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(e[0])) |
                                static_cast<uint32_t>(static_cast<uint16_t>(e[1])) << 16);
  }
};

}  // namespace intfa::cpu::simd::avx2

#define INTFA_SIMD_NS avx2
#include "cpu/simd/f32_kernel.hpp"
#include "cpu/simd/int_kernel.hpp"
#undef INTFA_SIMD_NS

namespace intfa::cpu::simd {

bool exp2_vector_ok_avx2() {
  static const bool ok = [] {
    std::vector<float> xs(static_cast<size_t>(exp2_check_sample(nullptr, 0)));
    const int64_t n = exp2_check_sample(xs.data(), static_cast<int64_t>(xs.size()));
    return exp2_mismatches_avx2(xs.data(), n) == 0;
  }();
  return ok;
}

void attention_int_avx2(const AttentionParams& p) {
  if (!exp2_vector_ok_avx2()) avx2::Avx2::use_vector_exp2.store(false, std::memory_order_relaxed);
  avx2::attention_int<avx2::Avx2>(p);
}

void attention_f32_avx2(const AttentionParams& p) { avx2::attention_f32<avx2::Avx2>(p); }

int64_t exp2_mismatches_avx2(const float* xs, int64_t n) {
  int64_t bad = 0;
  for (int64_t i = 0; i + 8 <= n; i += 8) {
    alignas(32) float y[8];
    _mm256_store_ps(y, avx2::Avx2::exp2_vector(_mm256_loadu_ps(xs + i)));
    for (int k = 0; k < 8; ++k) {
      const float ref = exp2f(xs[i + k]);
      if (std::memcmp(&ref, &y[k], sizeof ref) != 0) ++bad;
    }
  }
  return bad;
}

double p_u8_fast_error_avx2(const float* xs, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i + 8 <= n; i += 8) {
    alignas(32) float y[8];
    _mm256_store_ps(y, _mm256_mul_ps(avx2::Avx2::exp2_fast(_mm256_loadu_ps(xs + i)),
                                     _mm256_set1_ps(255.f)));
    for (int k = 0; k < 8; ++k)
      worst = std::max(worst, std::fabs(static_cast<double>(y[k]) - exp2f(xs[i + k]) * 255.f));
  }
  return worst;
}

}  // namespace intfa::cpu::simd

INTFA_SIMD_TARGET_END

#else  // not x86-64 GCC/Clang: the dispatcher never selects AVX2

namespace intfa::cpu::simd {
[[noreturn]] static void no_avx2() {
  throw Error(StatusCode::unsupported, "this build of intfa has no AVX2 kernels");
}
void attention_int_avx2(const AttentionParams&) { no_avx2(); }
void attention_f32_avx2(const AttentionParams&) { no_avx2(); }
int64_t exp2_mismatches_avx2(const float*, int64_t) { no_avx2(); }
bool exp2_vector_ok_avx2() { return false; }
double p_u8_fast_error_avx2(const float*, int64_t) { no_avx2(); }
}  // namespace intfa::cpu::simd

#endif
