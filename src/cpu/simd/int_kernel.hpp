// The vectorized INT8 FlashAttention kernel, generic over an ISA's traits V.
// Included by the ISA files (avx2.cpp, avx512.cpp) inside their target region
// and with INTFA_SIMD_NS naming a namespace of their own.
//
// Layout: "query rows in vector lanes". A task is (batch, head, block of
// kQueryBlock queries); its rows are processed in groups of RG = 2 vectors
// (16 rows with AVX2, 32 with AVX-512). For one key block and one group:
//
//   S[j][i]  = Σ_w Qw[w][i] · Kw[j][w]     Qw: Q̂ words, rows in lanes (packed once per task)
//                                          Kw: K̂ words of key j, broadcast
//   softmax  over j, elementwise over the rows (no horizontal reductions, and
//            every per-row float operation of softmax_row.hpp is done per lane
//            in the same order, so the results are the same bit for bit)
//   O[d][i] += Σ_t Pw[t][i] · Vw[d][t]     Pw: P̂ words (rows in lanes), Vw: V̂ᵀ words of
//                                          channel d (V̂ᵀ is already token-contiguous)
//
// A "word" is 32 bits holding V::G consecutive 8-bit operands: G = 2 as int16
// pairs for vpmaddwd (exact for any int8 and for u8 P), G = 4 as bytes for
// VNNI vpdpbusd (u8 × s8: Q̂ is offset by +128 and 128·Σk is subtracted, P̂ is
// already unsigned). Integer products are exact in int32, so any summation
// order gives the emulation's dot products.
//
// Float work in the same order as softmax_row.hpp: scores, block max (max is
// exact in any order), exp2 (V::exp2 reproduces libm's exp2f, see
// exp2_data.hpp), P rounding, the running sums (the paper recipe's float sum
// over keys runs in key order per lane), alpha/weights, and the accumulator
// update acc·alpha + pv·(w·v_scale) without contraction (the library compiles
// with -ffp-contract=off, and V never emits an FMA here).

namespace intfa::cpu::simd::INTFA_SIMD_NS {

template <class V, PFormat kP>
class IntKernel {
 public:
  static constexpr int L = V::L;   // rows per vector
  static constexpr int G = V::G;   // operands per word
  static constexpr int Rv = 2;     // vectors per row group
  static constexpr int RG = Rv * L;
  static constexpr bool kFloatPV = kP == PFormat::fp16;
  using I = typename V::I;
  using F = typename V::F;
  using M = typename V::M;

  explicit IntKernel(const AttentionParams& p)
      : p_(p), D_(p.head_dim), N_(p.kv_block), Dg_((p.head_dim + G - 1) / G),
        Ng_((p.kv_block + G - 1) / G), groups_((kQueryBlock + RG - 1) / RG),
        qw_(static_cast<size_t>(groups_ * Dg_ * RG)), kw_(static_cast<size_t>(N_ * Dg_)),
        kbias_(static_cast<size_t>(N_)),
        vw_(kFloatPV ? 0 : static_cast<size_t>(D_ * Ng_)),
        vf_(kFloatPV ? static_cast<size_t>(N_ * D_) : 0),
        s_(static_cast<size_t>(N_ * RG)), pw_(static_cast<size_t>(Ng_ * RG)),
        acc_(static_cast<size_t>(groups_ * D_ * RG)), m_(static_cast<size_t>(groups_ * RG)),
        l_(m_.size()), rf_(m_.size()), vis_(m_.size()), group_end_(static_cast<size_t>(groups_)) {}

  void run(int64_t b, int64_t h, int64_t q_begin, int64_t q_end) {
    const int64_t M_rows = q_end - q_begin;
    const int64_t groups = (M_rows + RG - 1) / RG;
    const int64_t hk = h / p_.head_ratio();
    ks_ = p_.k_scale + (b * p_.kv_heads + hk) * p_.seqlen_k;
    vs_ = p_.v_scale + (b * p_.kv_heads + hk) * D_;
    pack_q(b, h, q_begin, q_end, groups);
    std::fill(acc_.begin(), acc_.end(), 0.f);

    int64_t key_end = 0;
    for (int64_t g = 0; g < groups; ++g) key_end = std::max(key_end, group_end_[g]);
    const int8_t* k_base =
        static_cast<const int8_t*>(p_.k) + b * p_.k_batch_stride + hk * p_.k_head_stride;
    for (int64_t n0 = 0; n0 < key_end; n0 += N_) {
      const int64_t n = std::min<int64_t>(N_, p_.seqlen_k - n0);
      const int64_t ng = (n + G - 1) / G;
      for (int64_t j = 0; j < n; ++j) {
        const int8_t* k_row = k_base + (n0 + j) * p_.k_row_stride;
        V::pack_i8(k_row, D_, kw_.data() + j * Dg_, Dg_);
        if constexpr (V::kVnni) kbias_[j] = 128 * V::sum_i8(k_row, D_);
      }
      if constexpr (kFloatPV) {
        load_float_v(p_, b, hk, n0, n, vf_.data());
      } else {
        const int8_t* vt = static_cast<const int8_t*>(p_.v) + b * p_.v_batch_stride +
                           hk * p_.v_head_stride + n0;
        for (int64_t d = 0; d < D_; ++d)
          V::pack_i8(vt + d * p_.v_row_stride, n, vw_.data() + d * ng, ng);
      }
      for (int64_t g = 0; g < groups; ++g)
        if (n0 < group_end_[g]) group_block(g, n0, n, ng);
    }

    for (int64_t g = 0; g < groups; ++g)
      finish_rows(p_, b, h, q_begin + g * RG, std::min<int64_t>(RG, M_rows - g * RG),
                  acc_.data() + g * D_ * RG, RG, m_.data() + g * RG, l_.data() + g * RG);
  }

 private:
  // Q̂ words, row factors, visible-key bounds and row states of the task.
  void pack_q(int64_t b, int64_t h, int64_t q_begin, int64_t q_end, int64_t groups) {
    const int8_t* q_base =
        static_cast<const int8_t*>(p_.q) + b * p_.q_batch_stride + h * p_.q_head_stride;
    const float* q_scale = p_.q_scale + (b * p_.heads + h) * p_.seqlen_q;
    std::fill(qw_.begin(), qw_.end(), V::kQPadWord);
    for (int64_t g = 0; g < groups; ++g) {
      int32_t* qw = qw_.data() + g * Dg_ * RG;
      for (int64_t i = 0; i < RG; ++i) {
        const int64_t row = q_begin + g * RG + i;
        const int64_t slot = g * RG + i;
        m_[slot] = -std::numeric_limits<float>::infinity();
        l_[slot] = 0.f;
        const int64_t last = std::min(row, q_end - 1);
        vis_[slot] = static_cast<int32_t>(
            visible_keys(p_.causal, last, p_.seqlen_q, p_.seqlen_k));
        if (row >= q_end) {
          rf_[slot] = 0.f;  // padding row: Q̂ = 0, scores 0, discarded
          continue;
        }
        rf_[slot] = numeric::row_score_factor(q_scale[row], p_.score_scale_log2);
        const int8_t* q = q_base + row * p_.q_row_stride;
        for (int64_t w = 0; w < Dg_; ++w) {
          int8_t e[G];
          for (int k = 0; k < G; ++k) e[k] = w * G + k < D_ ? q[w * G + k] : 0;
          qw[w * RG + i] = V::q_word(e);
        }
      }
      // Rows are in order, so the last row sees the most keys.
      group_end_[g] = vis_[g * RG + RG - 1];
    }
  }

  // Whether V has an assembly 2 × C micro-tile (AVX2: C = 4).
  template <int C>
  static constexpr bool tile_asm() {
    if constexpr (has_asm_tile<V>(0)) return C == 4 && V::kAsmTile;
    return false;
  }
  template <class T>
  static constexpr auto has_asm_tile(int) -> decltype(T::kAsmTile, bool()) { return true; }
  template <class T>
  static constexpr bool has_asm_tile(...) { return false; }

  // Values that live across the micro-kernels are kept in memory (mb_, alpha_,
  // weight_, rf_, vis_), not in registers: the micro-tiles need all 16 ymm
  // registers, and GCC spills accumulators otherwise.
  void group_block(int64_t g, int64_t n0, int64_t n, int64_t ng) {
    const int32_t* qw = qw_.data() + g * Dg_ * RG;
    for (int i = 0; i < RG; ++i) mb_[i] = -std::numeric_limits<float>::infinity();
    // Masking is needed when some row of the group sees fewer keys than n0 + n.
    const bool mask = vis_[g * RG] < n0 + n;
    int64_t j = 0;
    for (; j + V::Cj <= n; j += V::Cj) scores<V::Cj>(g, qw, j, n0, mask);
    for (; j < n; ++j) scores<1>(g, qw, j, n0, mask);

    for (int r = 0; r < Rv; ++r) softmax(g, r, n, ng);

    int64_t d = 0;
    for (; d + V::Cd <= D_; d += V::Cd) pv<V::Cd>(g, d, n, ng);
    for (; d < D_; ++d) pv<1>(g, d, n, ng);
  }

  // Scores of keys j..j+C-1 of the block for the group's rows into s_[j][row].
  template <int C>
  INTFA_SIMD_INLINE void scores(int64_t g, const int32_t* qw, int64_t j, int64_t n0, bool mask) {
    I a[Rv][C];
    const int32_t* kw = kw_.data() + j * Dg_;
    if constexpr (tile_asm<C>()) {
      I out[8];
      V::tile_2x4(qw, RG, kw, kw + Dg_, kw + 2 * Dg_, kw + 3 * Dg_, Dg_, out);
      for (int r = 0; r < Rv; ++r)
        for (int c = 0; c < C; ++c) a[r][c] = out[r * 4 + c];
    } else {
    for (int r = 0; r < Rv; ++r)
      for (int c = 0; c < C; ++c) a[r][c] = V::izero();
    for (int64_t w = 0; w < Dg_; ++w) {
      const I q0 = V::iload(qw + w * RG);
      const I q1 = V::iload(qw + w * RG + L);
      for (int c = 0; c < C; ++c) {
        const I k = V::ibcast(kw + c * Dg_ + w);
        a[0][c] = V::dot(a[0][c], q0, k);
        a[1][c] = V::dot(a[1][c], q1, k);
      }
    }
    }
    const F neg_inf = V::fset1(-std::numeric_limits<float>::infinity());
    for (int r = 0; r < Rv; ++r) {
      const F rf = V::fload(rf_.data() + g * RG + r * L);
      F mb = V::fload(mb_ + r * L);
      for (int c = 0; c < C; ++c) {
        const int64_t key = n0 + j + c;
        I dot = a[r][c];
        if constexpr (V::kVnni) dot = V::isub(dot, V::iset1(kbias_[j + c]));
        // score_from_dot: dot · (row_factor · k_scale)
        F s = V::fmul(V::cvt(dot), V::fmul(rf, V::fset1(ks_[key])));
        if (mask) {
          const I vis = V::iload(vis_.data() + g * RG + r * L);
          s = V::fselect(V::igt(vis, V::iset1(static_cast<int32_t>(key))), s, neg_inf);
        }
        V::fstore(s_.data() + (j + c) * RG + r * L, s);
        mb = V::fmax(mb, s);
      }
      V::fstore(mb_ + r * L, mb);
    }
  }

  // softmax_block for the L rows of vector r: P words into pw_ (or fp16 P into
  // s_), row state update, and the accumulator factors alpha and weight.
  INTFA_SIMD_INLINE void softmax(int64_t g, int r, int64_t n, int64_t ng) {
    const F m_block = V::fload(mb_ + r * L);
    F alpha, weight;
    float* m_ptr = m_.data() + g * RG + r * L;
    float* l_ptr = l_.data() + g * RG + r * L;
    const F m_old = V::fload(m_ptr), l_old = V::fload(l_ptr);
    const F m_new = V::fmax(m_old, m_block);
    const F neg_inf = V::fset1(-std::numeric_limits<float>::infinity());
    // Rows whose keys in this block are all masked (including rows that saw no
    // key yet): P = 0, alpha = 1, weight = 0, state unchanged.
    const M dead = V::feq(m_block, neg_inf);
    const F one = V::fset1(1.f), zero = V::fzero();
    // exp2 arguments of dead rows would be NaN (-inf - -inf): give those lanes
    // finite maxima; their results are replaced below anyway.
    const F m_block_x = V::fselect(dead, zero, m_block);
    const F m_new_x = V::fselect(dead, zero, m_new);
    float* s = s_.data() + r * L;
    int32_t* pw = pw_.data() + r * L;
    if constexpr (kP == PFormat::uint8_block_max) {
      const F scale = V::fset1(numeric::kUint8Max);
      const F near = V::fset1(0.5f - kPFastMargin);
      I sum = V::izero();
      for (int64_t t = 0; t < ng; ++t) {
        I word = V::izero();
        for (int e = 0; e < G; ++e) {
          const int64_t j = t * G + e;
          if (j >= n) break;
          const F x = V::fsub(V::fload(s + j * RG), m_block_x);
          // quantize_p_uint8(exp2f(x)): the fast exp2 decides unless it lands
          // near a rounding boundary (see kPFastMargin); then the exact one.
          const F p_fast = V::fmul(V::exp2_fast(x), scale);
          F p_round = V::fround(p_fast);
          if (__builtin_expect(V::any_gt(V::fabs(V::fsub(p_fast, p_round)), near), 0))
            p_round = V::fround(V::fmul(V::exp2(x), scale));
          I q = V::cvt_exact(p_round);
          q = V::iselect(dead, V::izero(), q);
          sum = V::iadd(sum, q);
          word = V::ior(word, V::shl_lane(q, e));
        }
        V::istore(pw + t * RG, word);
      }
      alpha = V::fselect(dead, one, V::exp2(V::fsub(m_old, m_new_x)));
      weight = V::fselect(dead, zero,
                          V::fmul(V::exp2(V::fsub(m_block_x, m_new_x)), V::fset1(numeric::kInv255)));
      const F l_new = V::fadd(V::fmul(l_old, alpha), V::fmul(V::cvt(sum), weight));
      V::fstore(l_ptr, V::fselect(dead, l_old, l_new));
    } else {
      F sum = V::fzero();
      if constexpr (kP == PFormat::int8_running_max) {
        const F scale = V::fset1(numeric::kInt8Max);
        for (int64_t t = 0; t < ng; ++t) {
          I word = V::izero();
          for (int e = 0; e < G; ++e) {
            const int64_t j = t * G + e;
            if (j >= n) break;
            const F ex = V::exp2(V::fsub(V::fload(s + j * RG), m_new_x));
            sum = V::fadd(sum, ex);  // key order, per lane: as the scalar loop
            I q = V::round_int(V::fmul(ex, scale));  // quantize_p_int8
            q = V::iselect(dead, V::izero(), q);
            word = V::ior(word, V::shl_lane(q, e));
          }
          V::istore(pw + t * RG, word);
        }
        weight = V::fselect(dead, zero, V::fset1(numeric::kInv127));
      } else {  // fp16 P, kept as floats in s_ for the float P·V product
        for (int64_t j = 0; j < n; ++j) {
          const F ex = V::exp2(V::fsub(V::fload(s + j * RG), m_new_x));
          sum = V::fadd(sum, ex);
          V::fstore(s + j * RG, V::fselect(dead, zero, V::round_fp16(ex)));
        }
        weight = V::fselect(dead, zero, one);
      }
      alpha = V::fselect(dead, one, V::exp2(V::fsub(m_old, m_new_x)));
      const F l_new = V::fadd(V::fmul(l_old, alpha), sum);
      V::fstore(l_ptr, V::fselect(dead, l_old, l_new));
    }
    V::fstore(m_ptr, V::fselect(dead, m_old, m_new));
    V::fstore(alpha_ + r * L, alpha);
    V::fstore(weight_ + r * L, weight);
  }

  // Channels d..d+C-1: pv = P̂·V̂ (exact int32, or fp32 in key order for fp16 P),
  // then acc = acc·alpha + pv·(weight·v_scale).
  template <int C>
  INTFA_SIMD_INLINE void pv(int64_t g, int64_t d, int64_t n, int64_t ng) {
    F pvf[Rv][C];
    if constexpr (kFloatPV) {
      for (int r = 0; r < Rv; ++r)
        for (int c = 0; c < C; ++c) pvf[r][c] = V::fzero();
      const float* v = vf_.data() + d;
      for (int64_t j = 0; j < n; ++j) {
        const F p0 = V::fload(s_.data() + j * RG), p1 = V::fload(s_.data() + j * RG + L);
        for (int c = 0; c < C; ++c) {
          const F vb = V::fset1(v[j * D_ + c]);
          pvf[0][c] = V::fadd(pvf[0][c], V::fmul(p0, vb));
          pvf[1][c] = V::fadd(pvf[1][c], V::fmul(p1, vb));
        }
      }
    } else {
      I a[Rv][C];
      const int32_t* vw = vw_.data() + d * ng;
      if constexpr (tile_asm<C>()) {
        I out[8];
        V::tile_2x4(pw_.data(), RG, vw, vw + ng, vw + 2 * ng, vw + 3 * ng, ng, out);
        for (int r = 0; r < Rv; ++r)
          for (int c = 0; c < C; ++c) a[r][c] = out[r * 4 + c];
      } else {
      for (int r = 0; r < Rv; ++r)
        for (int c = 0; c < C; ++c) a[r][c] = V::izero();
      for (int64_t t = 0; t < ng; ++t) {
        const I p0 = V::iload(pw_.data() + t * RG), p1 = V::iload(pw_.data() + t * RG + L);
        for (int c = 0; c < C; ++c) {
          const I vb = V::ibcast(vw + c * ng + t);
          a[0][c] = V::dot(a[0][c], p0, vb);
          a[1][c] = V::dot(a[1][c], p1, vb);
        }
      }
      }
      for (int r = 0; r < Rv; ++r)
        for (int c = 0; c < C; ++c) pvf[r][c] = V::cvt(a[r][c]);
    }
    for (int r = 0; r < Rv; ++r) {
      const F alpha = V::fload(alpha_ + r * L), weight = V::fload(weight_ + r * L);
      for (int c = 0; c < C; ++c) {
        const F w = V::fmul(weight, V::fset1(vs_[d + c]));
        float* acc = acc_.data() + (g * D_ + d + c) * RG + r * L;
        V::fstore(acc, V::fadd(V::fmul(V::fload(acc), alpha), V::fmul(pvf[r][c], w)));
      }
    }
  }

  const AttentionParams& p_;
  const int64_t D_, N_, Dg_, Ng_, groups_;
  const float* ks_ = nullptr;
  const float* vs_ = nullptr;
  std::vector<int32_t> qw_;     // [group][Dg][RG]
  std::vector<int32_t> kw_;     // [N][Dg]
  std::vector<int32_t> kbias_;  // [N]: 128 · Σ_d K̂[j][d] (VNNI only)
  std::vector<int32_t> vw_;     // [D][ng]
  std::vector<float> vf_;       // [N][D] float V (fp16 P)
  std::vector<float> s_;        // [N][RG] scores, then fp16 P
  std::vector<int32_t> pw_;     // [ng][RG]
  std::vector<float> acc_;      // [group][D][RG]
  std::vector<float> m_, l_, rf_;
  std::vector<int32_t> vis_;
  std::vector<int64_t> group_end_;
  alignas(64) float mb_[RG], alpha_[RG], weight_[RG];
};

template <class V, PFormat kP>
void run_int(const AttentionParams& p) {
  for_each_query_block(
      p, kQueryBlock,
      [](const AttentionParams& prm, int64_t b, int64_t h, int64_t q0, int64_t q1, void*) {
        IntKernel<V, kP> kernel(prm);
        kernel.run(b, h, q0, q1);
      },
      nullptr);
}

template <class V>
void attention_int(const AttentionParams& p) {
  switch (p.recipe.p) {
    case PFormat::int8_running_max: return run_int<V, PFormat::int8_running_max>(p);
    case PFormat::uint8_block_max: return run_int<V, PFormat::uint8_block_max>(p);
    case PFormat::fp16: return run_int<V, PFormat::fp16>(p);
    default: break;
  }
  throw Error(StatusCode::internal, "SIMD INT8 kernel called for an unsupported recipe");
}

}  // namespace intfa::cpu::simd::INTFA_SIMD_NS
