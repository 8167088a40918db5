// AVX-512 traits for int_kernel.hpp / f32_kernel.hpp, included inside the
// target region of avx512.cpp (F + BW: int16 vpmaddwd words) and of
// avx512_vnni.cpp (+ VNNI: u8·s8 vpdpbusd words), with INTFA_SIMD_NS set.
// Uses AVX-512 F and BW only (no DQ/VL), plus VNNI in the VNNI build.

namespace intfa::cpu::simd::INTFA_SIMD_NS {

template <bool kVnniWords>
struct Avx512 {
  static constexpr int L = 16;  // rows per vector
  static constexpr int G = kVnniWords ? 4 : 2;
  static constexpr bool kVnni = kVnniWords;
  // VNNI Q̂ words hold q + 128 as u8: a zero operand is 128.
  static constexpr int32_t kQPadWord = kVnniWords ? static_cast<int32_t>(0x80808080u) : 0;
  static constexpr int Cj = 8;  // 2 × 8 accumulators of 32
  static constexpr int Cd = 8;
  using I = __m512i;
  using F = __m512;
  using M = __mmask16;

  static INTFA_SIMD_INLINE I izero() { return _mm512_setzero_si512(); }
  static INTFA_SIMD_INLINE I iload(const int32_t* p) { return _mm512_loadu_si512(p); }
  static INTFA_SIMD_INLINE void istore(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static INTFA_SIMD_INLINE I ibcast(const int32_t* p) { return _mm512_set1_epi32(*p); }
  static INTFA_SIMD_INLINE I iset1(int32_t v) { return _mm512_set1_epi32(v); }
  static INTFA_SIMD_INLINE I iadd(I a, I b) { return _mm512_add_epi32(a, b); }
  static INTFA_SIMD_INLINE I isub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static INTFA_SIMD_INLINE I ior(I a, I b) { return _mm512_or_si512(a, b); }
  static INTFA_SIMD_INLINE I shl_lane(I q, int e) {
    if constexpr (kVnniWords) {
      switch (e) {
        case 0: return q;
        case 1: return _mm512_slli_epi32(q, 8);
        case 2: return _mm512_slli_epi32(q, 16);
        default: return _mm512_slli_epi32(q, 24);
      }
    } else {
      return e == 0 ? q : _mm512_slli_epi32(q, 16);
    }
  }
  // acc + Σ word products, exact in int32. VNNI: a holds unsigned bytes.
  static INTFA_SIMD_INLINE I dot(I acc, I a, I b) {
    if constexpr (kVnniWords) {
      return _mm512_dpbusd_epi32(acc, a, b);
    } else {
      return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
    }
  }
  static INTFA_SIMD_INLINE M igt(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }
  static INTFA_SIMD_INLINE I iselect(M m, I t, I f) { return _mm512_mask_blend_epi32(m, f, t); }

  static INTFA_SIMD_INLINE F fzero() { return _mm512_setzero_ps(); }
  static INTFA_SIMD_INLINE F fload(const float* p) { return _mm512_loadu_ps(p); }
  static INTFA_SIMD_INLINE void fstore(float* p, F v) { _mm512_storeu_ps(p, v); }
  static INTFA_SIMD_INLINE F fset1(float v) { return _mm512_set1_ps(v); }
  static INTFA_SIMD_INLINE F fadd(F a, F b) { return _mm512_add_ps(a, b); }
  static INTFA_SIMD_INLINE F fsub(F a, F b) { return _mm512_sub_ps(a, b); }
  static INTFA_SIMD_INLINE F fmul(F a, F b) { return _mm512_mul_ps(a, b); }
  static INTFA_SIMD_INLINE F fmax(F a, F b) { return _mm512_max_ps(a, b); }
  static INTFA_SIMD_INLINE F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static INTFA_SIMD_INLINE F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static INTFA_SIMD_INLINE I round_int(F x) {
    return _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static INTFA_SIMD_INLINE M feq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static INTFA_SIMD_INLINE F fselect(M m, F t, F f) { return _mm512_mask_blend_ps(m, f, t); }
  static INTFA_SIMD_INLINE F round_fp16(F x) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }

  // glibc's exp2f on 8 doubles (exp2_data.hpp); the 32-entry table is read
  // with two two-register permutes instead of a gather.
  static INTFA_SIMD_INLINE __m512d exp2_core(__m512d xd) {
    const __m512d shift = _mm512_set1_pd(kExp2fShift);
    __m512d kd = _mm512_add_pd(xd, shift);
    const __m512i ki = _mm512_castpd_si512(kd);
    kd = _mm512_sub_pd(kd, shift);
    const __m512d r = _mm512_sub_pd(xd, kd);
    const __m512i idx = _mm512_and_si512(ki, _mm512_set1_epi64(31));
    const __m512i* tab = reinterpret_cast<const __m512i*>(kExp2fTable);
    const __m512i t_lo = _mm512_permutex2var_epi64(_mm512_loadu_si512(tab), idx,
                                                   _mm512_loadu_si512(tab + 1));
    const __m512i t_hi = _mm512_permutex2var_epi64(_mm512_loadu_si512(tab + 2), idx,
                                                   _mm512_loadu_si512(tab + 3));
    __m512i t = _mm512_mask_blend_epi64(_mm512_test_epi64_mask(idx, _mm512_set1_epi64(16)), t_lo,
                                        t_hi);
    t = _mm512_add_epi64(t, _mm512_slli_epi64(ki, 47));
    const __m512d s = _mm512_castsi512_pd(t);
    const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(kExp2fC0), r, _mm512_set1_pd(kExp2fC1));
    const __m512d r2 = _mm512_mul_pd(r, r);
    __m512d y = _mm512_fmadd_pd(_mm512_set1_pd(kExp2fC2), r, _mm512_set1_pd(1.0));
    y = _mm512_fmadd_pd(z, r2, y);
    return _mm512_mul_pd(y, s);
  }
  static INTFA_SIMD_INLINE F exp2_vector(F x) {
    const __m256 x_lo = _mm512_castps512_ps256(x);
    const __m256 x_hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    const __m256 y_lo = _mm512_cvtpd_ps(exp2_core(_mm512_cvtps_pd(x_lo)));
    const __m256 y_hi = _mm512_cvtpd_ps(exp2_core(_mm512_cvtps_pd(x_hi)));
    F y = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(y_lo)),
                                              _mm256_castps_pd(y_hi), 1));
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(kExp2fTinyBelow), _CMP_LT_OQ),
                             y, _mm512_set1_ps(kExp2fTiny));
    y = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(kExp2fZeroBelow), _CMP_LE_OQ),
                             y, _mm512_setzero_ps());
    const M odd = _mm512_cmp_ps_mask(x, _mm512_set1_ps(128.f), _CMP_NLT_UQ);
    if (__builtin_expect(odd != 0, 0)) y = exp2_lanes(x, y, odd);
    return y;
  }
  static __attribute__((noinline)) F exp2_lanes(F x, F y, unsigned lanes) {
    alignas(64) float xs[16], ys[16];
    _mm512_store_ps(xs, x);
    _mm512_store_ps(ys, y);
    for (int i = 0; i < 16; ++i)
      if (lanes >> i & 1u) ys[i] = exp2f(xs[i]);
    return _mm512_load_ps(ys);
  }
  static __attribute__((noinline)) F exp2_libm(F x) { return exp2_lanes(x, x, 0xffffu); }
  static inline std::atomic<bool> use_vector_exp2{true};
  static INTFA_SIMD_INLINE F exp2(F x) {
    return __builtin_expect(use_vector_exp2.load(std::memory_order_relaxed), 1) ? exp2_vector(x)
                                                                               : exp2_libm(x);
  }

  static INTFA_SIMD_INLINE F fround(F x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static INTFA_SIMD_INLINE F fabs(F x) { return _mm512_abs_ps(x); }
  static INTFA_SIMD_INLINE bool any_gt(F a, F b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ) != 0;
  }
  static INTFA_SIMD_INLINE I cvt_exact(F x) { return _mm512_cvttps_epi32(x); }

  static INTFA_SIMD_INLINE F exp2_fast(F x) {
    const F xc = _mm512_max_ps(x, _mm512_set1_ps(-126.f));
    const F n = _mm512_roundscale_ps(xc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const F f = _mm512_sub_ps(xc, n);
    F p = _mm512_set1_ps(1.5353362e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3398874e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.6181291e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022651e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    const I e =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    const F y = _mm512_mul_ps(p, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-126.f), _CMP_NLT_UQ), y);
  }

  // `words` words from n int8 values, zero padded: int16 pairs (BW) or the
  // bytes themselves (VNNI).
  static void pack_i8(const int8_t* src, int64_t n, int32_t* dst, int64_t words) {
    if constexpr (kVnniWords) {
      int8_t* out = reinterpret_cast<int8_t*>(dst);
      std::memcpy(out, src, static_cast<size_t>(n));
      for (int64_t i = n; i < 4 * words; ++i) out[i] = 0;
    } else {
      int16_t* out = reinterpret_cast<int16_t*>(dst);
      int64_t i = 0;
      for (; i + 32 <= n; i += 32) {
        const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
        _mm512_storeu_si512(out + i, _mm512_cvtepi8_epi16(b));
      }
      for (; i < n; ++i) out[i] = src[i];
      for (; i < 2 * words; ++i) out[i] = 0;
    }
  }
  static int32_t sum_i8(const int8_t* src, int64_t n) {
    int32_t s = 0;
    for (int64_t i = 0; i < n; ++i) s += src[i];
    return s;
  }
  static INTFA_SIMD_INLINE int32_t q_word(const int8_t* e) {
    uint32_t w = 0;
    if constexpr (kVnniWords) {
      for (int k = 0; k < 4; ++k) w |= static_cast<uint32_t>(static_cast<uint8_t>(e[k] + 128)) << (8 * k);
    } else {
      w = static_cast<uint32_t>(static_cast<uint16_t>(e[0])) |
          static_cast<uint32_t>(static_cast<uint16_t>(e[1])) << 16;
    }
    return static_cast<int32_t>(w);
  }
};

}  // namespace intfa::cpu::simd::INTFA_SIMD_NS
