// The per-row steps of the online softmax shared by the mma.sync (sm80) and
// wgmma (sm90) attention kernels, so both follow src/cpu/softmax_row.hpp with
// the same float operations: the block update (running max, rescale factor,
// P offset and weight per P format), the end-of-row normalization with the
// log-sum-exp, and the store of an output element pair.
#pragma once

#include <cfloat>
#include <cstdint>

#include "common/ptx.cuh"
#include "core/numeric.hpp"
#include "sm80/kernel_params.hpp"
#include "sm80/kernel_traits.hpp"  // PMode

namespace intfa::cuda {

inline constexpr float kLn2 = 0.693147180559945309f;  // as src/cpu/softmax_row.hpp
inline constexpr float kNegInf = -__builtin_huge_valf();

// What one key block changes for one query row.
struct RowBlockUpdate {
  float alpha;     // factor on the output and l accumulated so far
  float p_offset;  // P = 2^(t·row_factor − p_offset) before quantization
  float weight;    // factor of this block's integer P·V (and of its l)
};

// m_blk: the block's row max of t·row_factor (−inf when every key is masked);
// m_run: the running max, updated in place.
template <PMode kMode>
__device__ __forceinline__ RowBlockUpdate online_softmax_update(float m_blk, float& m_run) {
  RowBlockUpdate u;
  const float m_new = fmaxf(m_run, m_blk);
  const float m_new_safe = m_new == kNegInf ? 0.f : m_new;
  u.alpha = m_run == m_new ? 1.f : ex2_approx(m_run - m_new_safe);
  if constexpr (kMode == PMode::uint8_block) {
    u.p_offset = m_blk == kNegInf ? 0.f : m_blk;
    u.weight = ex2_approx(m_blk - m_new_safe) * numeric::kInv255;  // 0 if masked
  } else {
    u.p_offset = m_new_safe;
    u.weight = kMode == PMode::int8_running ? numeric::kInv127 : 1.f;
  }
  m_run = m_new;
  return u;
}

// The row's factor from Q̂ row scale to log2 units of the softmax argument,
// kept > 0 so that t·row_factor keeps −inf for masked keys (an all-zero Q̂
// row has t = 0 for every key, so the value is irrelevant).
__device__ __forceinline__ float row_factor_of(const KernelParams& p, int b, int h, int row) {
  const float qs =
      row < p.seqlen_q ? p.q_scale[(static_cast<int64_t>(b) * p.heads + h) * p.seqlen_q + row] : 0.f;
  return fmaxf(numeric::row_score_factor(qs, p.score_scale_log2), FLT_MIN);
}

// End of a row: l summed over the quad (each thread holds a partial over its
// keys), LSE written by thread 0 of the quad, 1/l returned (0 for a row whose
// keys are all masked: O = 0, LSE = −inf).
__device__ __forceinline__ float finish_row(const KernelParams& p, int b, int h, int row,
                                            float l_partial, float m_run, int quad_lane) {
  float l = l_partial;
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  if (p.lse != nullptr && quad_lane == 0 && row < p.seqlen_q) {
    const int64_t idx = (static_cast<int64_t>(b) * p.heads + h) * p.seqlen_q + row;
    float lse = kNegInf;
    if (l > 0.f) {
      lse = (m_run + log2f(l)) * kLn2;
      if (p.lse_offset != nullptr) lse += p.softmax_scale * p.lse_offset[idx];
    }
    p.lse[idx] = lse;
  }
  return l > 0.f ? 1.f / l : 0.f;
}

// O[b, row, h, col..col+1] = (o0, o1) in the output type.
__device__ __forceinline__ void store_output_pair(const KernelParams& p, int b, int h, int row,
                                                  int col, float o0, float o1) {
  const int64_t off = b * p.o_batch_stride + row * p.o_row_stride + h * p.o_head_stride + col;
  if (p.out_type == OutType::f32) {
    *reinterpret_cast<float2*>(static_cast<float*>(p.out) + off) = make_float2(o0, o1);
  } else if (p.out_type == OutType::f16) {
    *reinterpret_cast<uint32_t*>(static_cast<uint16_t*>(p.out) + off) = pack_half2(o0, o1);
  } else {
    *reinterpret_cast<uint32_t*>(static_cast<uint16_t*>(p.out) + off) = pack_bf162(o0, o1);
  }
}

}  // namespace intfa::cuda
