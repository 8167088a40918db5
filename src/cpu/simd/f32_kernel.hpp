// The float32 flash-attention baseline, generic over an ISA's traits V, with
// the same structure as the INT8 kernel (int_kernel.hpp): tasks of
// kQueryBlock queries, row groups of 2 vectors with query rows in lanes, key
// blocks of kv_block keys, online softmax in log2 units. It is a baseline, so
// it takes the fast routes a float kernel would: FMA for both products, a
// polynomial exp2 (V::exp2_fast, ~2 ulp) and no rounding of P. Q and K rows
// are read in place (K broadcast from its rows), V rows too.

namespace intfa::cpu::simd::INTFA_SIMD_NS {

template <class V>
class F32Kernel {
 public:
  static constexpr int L = V::L;
  static constexpr int Rv = 2;
  static constexpr int RG = Rv * L;
  using F = typename V::F;
  using I = typename V::I;

  explicit F32Kernel(const AttentionParams& p)
      : p_(p), D_(p.head_dim), N_(p.kv_block), groups_((kQueryBlock + RG - 1) / RG),
        qt_(static_cast<size_t>(groups_ * D_ * RG)), s_(static_cast<size_t>(N_ * RG)),
        acc_(static_cast<size_t>(groups_ * D_ * RG)), m_(static_cast<size_t>(groups_ * RG)),
        l_(m_.size()), vis_(m_.size()), group_end_(static_cast<size_t>(groups_)),
        k_rows_(static_cast<size_t>(N_)), v_rows_(static_cast<size_t>(N_)) {}

  void run(int64_t b, int64_t h, int64_t q_begin, int64_t q_end) {
    const int64_t rows = q_end - q_begin;
    const int64_t groups = (rows + RG - 1) / RG;
    const int64_t hk = h / p_.head_ratio();
    const float* q_base =
        static_cast<const float*>(p_.q) + b * p_.q_batch_stride + h * p_.q_head_stride;
    std::fill(qt_.begin(), qt_.end(), 0.f);
    std::fill(acc_.begin(), acc_.end(), 0.f);
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t i = 0; i < RG; ++i) {
        const int64_t row = q_begin + g * RG + i, slot = g * RG + i;
        m_[slot] = -std::numeric_limits<float>::infinity();
        l_[slot] = 0.f;
        vis_[slot] = static_cast<int32_t>(
            visible_keys(p_.causal, std::min(row, q_end - 1), p_.seqlen_q, p_.seqlen_k));
        if (row >= q_end) continue;
        const float* q = q_base + row * p_.q_row_stride;
        for (int64_t d = 0; d < D_; ++d) qt_[(g * D_ + d) * RG + i] = q[d];
      }
      group_end_[g] = vis_[g * RG + RG - 1];
    }
    int64_t key_end = 0;
    for (int64_t g = 0; g < groups; ++g) key_end = std::max(key_end, group_end_[g]);

    const float* k_base =
        static_cast<const float*>(p_.k) + b * p_.k_batch_stride + hk * p_.k_head_stride;
    const float* v_base =
        static_cast<const float*>(p_.v) + b * p_.v_batch_stride + hk * p_.v_head_stride;
    for (int64_t n0 = 0; n0 < key_end; n0 += N_) {
      const int64_t n = std::min<int64_t>(N_, p_.seqlen_k - n0);
      for (int64_t j = 0; j < n; ++j) {
        k_rows_[j] = k_base + (n0 + j) * p_.k_row_stride;
        v_rows_[j] = v_base + (n0 + j) * p_.v_row_stride;
      }
      for (int64_t g = 0; g < groups; ++g)
        if (n0 < group_end_[g]) group_block(g, n0, n);
    }
    for (int64_t g = 0; g < groups; ++g)
      finish_rows(p_, b, h, q_begin + g * RG, std::min<int64_t>(RG, rows - g * RG),
                  acc_.data() + g * D_ * RG, RG, m_.data() + g * RG, l_.data() + g * RG);
  }

 private:
  void group_block(int64_t g, int64_t n0, int64_t n) {
    const float* qt = qt_.data() + g * D_ * RG;
    F mb[Rv];
    I vis[Rv];
    for (int r = 0; r < Rv; ++r) {
      mb[r] = V::fset1(-std::numeric_limits<float>::infinity());
      vis[r] = V::iload(vis_.data() + g * RG + r * L);
    }
    const bool mask = vis_[g * RG] < n0 + n;
    int64_t j = 0;
    for (; j + V::Cj <= n; j += V::Cj) scores<V::Cj>(qt, j, n0, vis, mask, mb);
    for (; j < n; ++j) scores<1>(qt, j, n0, vis, mask, mb);

    // Online softmax per row vector; P overwrites the scores.
    F alpha[Rv];
    const F neg_inf = V::fset1(-std::numeric_limits<float>::infinity());
    for (int r = 0; r < Rv; ++r) {
      float* m_ptr = m_.data() + g * RG + r * L;
      float* l_ptr = l_.data() + g * RG + r * L;
      const F m_old = V::fload(m_ptr);
      F m_new = V::fmax(m_old, mb[r]);
      // Rows with no visible key yet: use 0 as the max so nothing is NaN; their
      // P is exp2(-inf) = 0 and alpha = exp2(-inf) = 0 leaves acc = 0.
      m_new = V::fselect(V::feq(m_new, neg_inf), V::fzero(), m_new);
      alpha[r] = V::exp2_fast(V::fsub(m_old, m_new));
      F sum = V::fzero();
      float* s = s_.data() + r * L;
      for (int64_t jj = 0; jj < n; ++jj) {
        const F e = V::exp2_fast(V::fsub(V::fload(s + jj * RG), m_new));
        V::fstore(s + jj * RG, e);
        sum = V::fadd(sum, e);
      }
      V::fstore(l_ptr, V::fmadd(V::fload(l_ptr), alpha[r], sum));
      // Keep -inf for rows that have seen nothing (finish_row gives them 0).
      V::fstore(m_ptr, V::fselect(V::feq(V::fload(l_ptr), V::fzero()), m_old, m_new));
    }
    int64_t d = 0;
    for (; d + V::Cd <= D_; d += V::Cd) pv<V::Cd>(g, d, n, alpha);
    for (; d < D_; ++d) pv<1>(g, d, n, alpha);
  }

  template <int C>
  INTFA_SIMD_INLINE void scores(const float* qt, int64_t j, int64_t n0, const I* vis, bool mask,
                                F* mb) {
    F a[Rv][C];
    for (int r = 0; r < Rv; ++r)
      for (int c = 0; c < C; ++c) a[r][c] = V::fzero();
    const float* k[C];
    for (int c = 0; c < C; ++c) k[c] = k_rows_[j + c];
    for (int64_t d = 0; d < D_; ++d) {
      const F q0 = V::fload(qt + d * RG), q1 = V::fload(qt + d * RG + L);
      for (int c = 0; c < C; ++c) {
        const F kb = V::fset1(k[c][d]);
        a[0][c] = V::fmadd(q0, kb, a[0][c]);
        a[1][c] = V::fmadd(q1, kb, a[1][c]);
      }
    }
    const F scale = V::fset1(p_.score_scale_log2);
    const F neg_inf = V::fset1(-std::numeric_limits<float>::infinity());
    for (int c = 0; c < C; ++c) {
      for (int r = 0; r < Rv; ++r) {
        F s = V::fmul(a[r][c], scale);
        if (mask)
          s = V::fselect(V::igt(vis[r], V::iset1(static_cast<int32_t>(n0 + j + c))), s, neg_inf);
        V::fstore(s_.data() + (j + c) * RG + r * L, s);
        mb[r] = V::fmax(mb[r], s);
      }
    }
  }

  // acc[d..d+C) = acc · alpha + Σ_j P[j] · V[j][d..d+C)
  template <int C>
  INTFA_SIMD_INLINE void pv(int64_t g, int64_t d, int64_t n, const F* alpha) {
    F a[Rv][C];
    float* acc = acc_.data() + (g * D_ + d) * RG;
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rv; ++r) a[r][c] = V::fmul(V::fload(acc + c * RG + r * L), alpha[r]);
    for (int64_t j = 0; j < n; ++j) {
      const F p0 = V::fload(s_.data() + j * RG), p1 = V::fload(s_.data() + j * RG + L);
      const float* v = v_rows_[j] + d;
      for (int c = 0; c < C; ++c) {
        const F vb = V::fset1(v[c]);
        a[0][c] = V::fmadd(p0, vb, a[0][c]);
        a[1][c] = V::fmadd(p1, vb, a[1][c]);
      }
    }
    for (int c = 0; c < C; ++c)
      for (int r = 0; r < Rv; ++r) V::fstore(acc + c * RG + r * L, a[r][c]);
  }

  const AttentionParams& p_;
  const int64_t D_, N_, groups_;
  std::vector<float> qt_;   // [group][D][RG]
  std::vector<float> s_;    // [N][RG] scores, then P
  std::vector<float> acc_;  // [group][D][RG]
  std::vector<float> m_, l_;
  std::vector<int32_t> vis_;
  std::vector<int64_t> group_end_;
  std::vector<const float*> k_rows_, v_rows_;
};

template <class V>
void attention_f32(const AttentionParams& p) {
  for_each_query_block(
      p, kQueryBlock,
      [](const AttentionParams& prm, int64_t b, int64_t h, int64_t q0, int64_t q1, void*) {
        F32Kernel<V> kernel(prm);
        kernel.run(b, h, q0, q1);
      },
      nullptr);
}

}  // namespace intfa::cpu::simd::INTFA_SIMD_NS
