// The one parameter struct that travels through the whole stack: the public
// API fills it, validation checks it, and every back-end (CPU tiles, CUDA
// mma.sync, CUDA wgmma) reads its pointers, strides and flags from it.
#pragma once

#include <cstdint>

#include "intfa/types.hpp"

namespace intfa {

// V̂ᵀ is stored token-contiguous, padded with zeros to a multiple of this many
// tokens, so 8-bit tensor-core kernels (whose operands must be K-major) read it
// without transposing and without bounds checks inside a key block.
inline constexpr int64_t kVTokenAlign = 128;

inline int64_t padded_kv_length(int64_t seqlen_k) {
  return (seqlen_k + kVTokenAlign - 1) / kVTokenAlign * kVTokenAlign;
}

struct AttentionParams {
  // ---- problem size -------------------------------------------------------
  int32_t batch = 0;
  int32_t heads = 0;     // H, query heads
  int32_t kv_heads = 0;  // Hk; H % Hk == 0 (GQA / MQA)
  int32_t seqlen_q = 0;  // Sq
  int32_t seqlen_k = 0;  // Sk; Sq != Sk allowed
  int32_t head_dim = 0;  // D

  // ---- operands -----------------------------------------------------------
  // Q: [B, Sq, H, D], element strides; dim contiguous. Element type qk_dtype:
  //   i8 for int8 recipes; f32 holding values already rounded to the recipe's
  //   format for the float baselines (CPU only).
  const void* q = nullptr;
  int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
  // K: [B, Sk, Hk, D], same element type as Q.
  const void* k = nullptr;
  int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  DType qk_dtype = DType::i8;

  // V, two layouts depending on the recipe:
  //   int8 V:  V̂ᵀ [B, Hk, D, v_seq_padded], token-contiguous (v_row_stride is
  //            the stride between head-dim channels, normally v_seq_padded).
  //   float V: [B, Sk, Hk, D] (f16 / bf16 / f32 holding rounded values).
  const void* v = nullptr;
  int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;
  int64_t v_seq_padded = 0;  // int8 V only
  DType v_dtype = DType::i8;

  // Dequantization scales (fp32). Per-tensor formats store the same value in
  // every slot, so kernels never branch on the granularity.
  const float* q_scale = nullptr;  // [B, H, Sq]
  const float* k_scale = nullptr;  // [B, Hk, Sk]
  const float* v_scale = nullptr;  // [B, Hk, D]
  // With K smoothing the scores lose q·mean(K), which softmax ignores but the
  // log-sum-exp does not: [B, H, Sq] raw dot products added back (times the
  // softmax scale) to the LSE. Null when K is not smoothed.
  const float* lse_offset = nullptr;

  // ---- outputs ------------------------------------------------------------
  // O: [B, Sq, H, D], element strides, f32 / f16 / bf16.
  void* out = nullptr;
  int64_t o_batch_stride = 0, o_row_stride = 0, o_head_stride = 0;
  DType out_dtype = DType::f32;
  // LSE: [B, H, Sq] contiguous, natural log; null when not wanted.
  // Rows whose keys are all masked get O = 0 and LSE = -inf.
  float* lse = nullptr;

  // ---- options ------------------------------------------------------------
  float softmax_scale = 0.f;     // natural units, 1/sqrt(D) by default
  float score_scale_log2 = 0.f;  // softmax_scale * log2(e): kernels use exp2
  bool causal = false;           // bottom-right aligned, as FlashAttention 2/3
  Recipe recipe{};
  // Keys per block of the online softmax. It defines the granularity of the
  // uint8 P scale (block-local row max) and the rescaling points, so a kernel
  // and the CPU emulation agree exactly only with the same value.
  int32_t kv_block = 64;

  void* stream = nullptr;  // cudaStream_t for the CUDA back-end

  int32_t head_ratio() const { return heads / kv_heads; }
};

}  // namespace intfa
