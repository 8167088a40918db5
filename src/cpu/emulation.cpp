// Direct emulation of INT8 FlashAttention: one query row at a time, every dot
// product read straight from the strided operands, no tiles, no transposes,
// no scratch reuse. It fixes the semantics that the tiled CPU kernel (and,
// within the exp2 rounding, the GPU kernels) must reproduce.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/numeric.hpp"
#include "core/tensor_access.hpp"
#include "core/threading.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/softmax_row.hpp"

namespace intfa::cpu {
namespace {

template <typename QKT, PFormat kP>
void emulate_row(const AttentionParams& p, int64_t b, int64_t h, int64_t i) {
  using PElem = typename PTraits<kP>::Elem;
  using PAccum = typename PTraits<kP>::Accum;
  using Dot = std::conditional_t<std::is_same_v<QKT, int8_t>, int32_t, float>;
  constexpr bool kIntV = std::is_same_v<PAccum, int32_t>;
  const int64_t D = p.head_dim, N = p.kv_block, hk = h / p.head_ratio();

  const QKT* q = static_cast<const QKT*>(p.q) + b * p.q_batch_stride + i * p.q_row_stride +
                 h * p.q_head_stride;
  const float row_factor =
      numeric::row_score_factor(p.q_scale[(b * p.heads + h) * p.seqlen_q + i], p.score_scale_log2);
  const float* k_scale = p.k_scale + (b * p.kv_heads + hk) * p.seqlen_k;
  const float* v_scale = p.v_scale + (b * p.kv_heads + hk) * D;
  const int64_t visible = visible_keys(p.causal, i, p.seqlen_q, p.seqlen_k);

  TensorView v_view;  // float V only
  v_view.data = const_cast<void*>(p.v);
  v_view.dtype = p.v_dtype;
  v_view.stride_batch = p.v_batch_stride, v_view.stride_seq = p.v_row_stride;
  v_view.stride_head = p.v_head_stride;

  RowState st;
  std::vector<float> acc(static_cast<size_t>(D), 0.f), s(static_cast<size_t>(N));
  std::vector<PElem> prob(static_cast<size_t>(N));
  // Only the blocks this row sees. (The tiled kernel also walks blocks that only
  // later rows of its tile see; for this row they are fully masked and leave
  // its state unchanged.)
  const int64_t key_end = visible;
  for (int64_t n0 = 0; n0 < key_end; n0 += N) {
    const int64_t n = std::min<int64_t>(N, p.seqlen_k - n0);
    for (int64_t j = 0; j < n; ++j) {
      const int64_t key = n0 + j;
      if (key >= visible) {
        s[j] = -std::numeric_limits<float>::infinity();
        continue;
      }
      const QKT* k = static_cast<const QKT*>(p.k) + b * p.k_batch_stride + key * p.k_row_stride +
                     hk * p.k_head_stride;
      Dot dot = 0;
      for (int64_t d = 0; d < D; ++d) dot += static_cast<Dot>(q[d]) * static_cast<Dot>(k[d]);
      s[j] = numeric::score_from_dot(dot, row_factor, k_scale[key]);
    }
    const BlockUpdate u = softmax_block<kP>(st, s.data(), n, prob.data());
    if (u.skip) continue;
    for (int64_t d = 0; d < D; ++d) {
      PAccum pv = 0;
      for (int64_t j = 0; j < n; ++j) {
        PAccum vjd;
        if constexpr (kIntV) {
          vjd = static_cast<const int8_t*>(p.v)[b * p.v_batch_stride + hk * p.v_head_stride +
                                                d * p.v_row_stride + n0 + j];
        } else {
          vjd = detail::load_element(p.v, p.v_dtype, v_view.offset(b, n0 + j, hk) + d);
        }
        pv += static_cast<PAccum>(prob[j]) * vjd;
      }
      acc[d] = acc[d] * u.alpha + static_cast<float>(pv) * (u.pv_weight * v_scale[d]);
    }
  }
  const float lse_offset = p.lse_offset ? p.lse_offset[(b * p.heads + h) * p.seqlen_q + i] : 0.f;
  const float lse = finish_row(st, acc.data(), D, p.softmax_scale, lse_offset);
  detail::store_row(p.out, p.out_dtype,
                    b * p.o_batch_stride + i * p.o_row_stride + h * p.o_head_stride, acc.data(), D);
  if (p.lse) p.lse[(b * p.heads + h) * p.seqlen_q + i] = lse;
}

template <typename QKT, PFormat kP>
void emulate(const AttentionParams& p) {
  detail::parallel_for(int64_t(p.batch) * p.heads, [&](int64_t task) {
    const int64_t b = task / p.heads, h = task % p.heads;
    for (int64_t i = 0; i < p.seqlen_q; ++i) emulate_row<QKT, kP>(p, b, h, i);
  });
}

}  // namespace

void attention_emulated(const AttentionParams& p) {
  require_natural_vt(p);
  const bool int_qk = p.qk_dtype == DType::i8;
  switch (p.recipe.p) {
    case PFormat::int8_running_max: return emulate<int8_t, PFormat::int8_running_max>(p);
    case PFormat::uint8_block_max: return emulate<int8_t, PFormat::uint8_block_max>(p);
    case PFormat::fp16:
      return int_qk ? emulate<int8_t, PFormat::fp16>(p) : emulate<float, PFormat::fp16>(p);
    case PFormat::e4m3:
      return int_qk ? emulate<int8_t, PFormat::e4m3>(p) : emulate<float, PFormat::e4m3>(p);
  }
}

}  // namespace intfa::cpu
