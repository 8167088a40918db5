// The online-softmax step of one query row over one key block, for every P
// format, and the final normalization. Shared by the tiled CPU kernel and the
// direct emulation so both perform the same float operations in the same
// order (the tests then demand bit equality of the whole integer path).
//
// Scores are in log2 units (see numeric.hpp). Masked scores are -inf.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "core/numeric.hpp"
#include "intfa/types.hpp"

namespace intfa::cpu {

template <PFormat kP>
struct PTraits;
template <>
struct PTraits<PFormat::int8_running_max> {
  using Elem = int8_t;   // round(127 · exp2(s - m_running))
  using Accum = int32_t;  // exact P̂·V̂
};
template <>
struct PTraits<PFormat::uint8_block_max> {
  using Elem = uint8_t;  // round(255 · exp2(s - m_block))
  using Accum = int32_t;
};
template <>
struct PTraits<PFormat::fp16> {
  using Elem = float;  // value rounded to fp16
  using Accum = float;
};
template <>
struct PTraits<PFormat::e4m3> {
  using Elem = float;  // value rounded to E4M3
  using Accum = float;
};

struct RowState {
  float m = -std::numeric_limits<float>::infinity();  // running max (log2 units)
  float l = 0.f;                                       // running sum of weights
};

// What the caller does with the block's P·V product pv[d]:
//   acc[d] = acc[d] · alpha + pv[d] · (pv_weight · v_scale[d])
struct BlockUpdate {
  bool skip = true;  // every key so far is masked: nothing to accumulate
  float alpha = 0.f;
  float pv_weight = 0.f;
};

// Processes scores s[0..n) of one row and block: writes P into p, updates st.
template <PFormat kP>
BlockUpdate softmax_block(RowState& st, const float* s, int64_t n,
                          typename PTraits<kP>::Elem* p) {
  float m_block = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) m_block = fmaxf(m_block, s[j]);
  const float m_new = fmaxf(st.m, m_block);
  BlockUpdate u;
  if (m_new == -std::numeric_limits<float>::infinity()) {
    for (int64_t j = 0; j < n; ++j) p[j] = 0;
    return u;
  }
  u.skip = false;
  if (m_block == -std::numeric_limits<float>::infinity()) {
    // Causal rows see a prefix of the keys: this block lies wholly past it.
    for (int64_t j = 0; j < n; ++j) p[j] = 0;
    u.alpha = 1.f;
    u.pv_weight = 0.f;
    return u;
  }
  u.alpha = exp2f(st.m - m_new);  // 0 on the first visible block
  if constexpr (kP == PFormat::uint8_block_max) {
    // P relative to the block's own row max uses the full [0, 255] range even
    // when this block's scores are far below the running max.
    int32_t sum = 0;
    for (int64_t j = 0; j < n; ++j) {
      const uint8_t q = numeric::quantize_p_uint8(exp2f(s[j] - m_block));
      p[j] = q;
      sum += q;
    }
    u.pv_weight = exp2f(m_block - m_new) * numeric::kInv255;
    // l from the quantized P: the weights applied to V sum exactly to l.
    st.l = st.l * u.alpha + static_cast<float>(sum) * u.pv_weight;
  } else {
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) {
      const float e = exp2f(s[j] - m_new);
      sum += e;
      if constexpr (kP == PFormat::int8_running_max) {
        p[j] = numeric::quantize_p_int8(e);
      } else if constexpr (kP == PFormat::fp16) {
        p[j] = numeric::round_to_fp16(e);
      } else {
        p[j] = numeric::round_to_e4m3(e);
      }
    }
    st.l = st.l * u.alpha + sum;  // FlashAttention-2: l from the unrounded P
    u.pv_weight = kP == PFormat::int8_running_max ? numeric::kInv127 : 1.f;
  }
  st.m = m_new;
  return u;
}

inline constexpr float kLn2 = 0.693147180559945309f;

// Final O = acc / l and LSE (natural log). Fully masked rows: O = 0, LSE = -inf.
inline float finish_row(const RowState& st, float* acc, int64_t dim, float softmax_scale,
                        float lse_offset) {
  if (!(st.l > 0.f)) {
    for (int64_t d = 0; d < dim; ++d) acc[d] = 0.f;
    return -std::numeric_limits<float>::infinity();
  }
  const float inv_l = 1.f / st.l;
  for (int64_t d = 0; d < dim; ++d) acc[d] *= inv_l;
  return (st.m + log2f(st.l)) * kLn2 + softmax_scale * lse_offset;
}

// Last key visible to query row i (exclusive bound), bottom-right aligned.
inline int64_t visible_keys(bool causal, int64_t row, int64_t seqlen_q, int64_t seqlen_k) {
  if (!causal) return seqlen_k;
  const int64_t limit = row + seqlen_k - seqlen_q + 1;
  return limit < 0 ? 0 : (limit > seqlen_k ? seqlen_k : limit);
}

}  // namespace intfa::cpu
