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

// Order of the tokens along V̂ᵀ's padded token axis.
//   natural:       position n holds token n (CPU back-end, CUDA mma.sync kernel).
//   interleaved16: inside every group of 16 positions, position 16g + k holds
//                  token 16g + vt_interleaved_token(k). This is the order in
//                  which a wgmma (sm_90) score accumulator, packed to 8 bits
//                  without moving bytes between threads, lists its keys: each
//                  thread's two adjacent keys of n8 tiles 2i and 2i+1 become
//                  four consecutive A-operand columns. The quantizer writes
//                  V̂ᵀ in this order so the Hopper kernel needs no shuffles.
enum class VtOrder : int32_t { natural = 0, interleaved16 = 1 };

// k = 4a + i (a, i in 0..3) holds token 2a + (i & 1) + 8 (i >> 1).
constexpr int64_t vt_interleaved_token(int64_t k) {
  return 2 * (k >> 2) + (k & 1) + 8 * ((k >> 1) & 1);
}
// The inverse: token t (0..15) sits at position 4 ((t & 7) >> 1) + (t & 1) + 2 (t >> 3).
constexpr int64_t vt_interleaved_position(int64_t t) {
  return 4 * ((t & 7) >> 1) + (t & 1) + 2 * (t >> 3);
}
// Position of token `token` on the padded axis for `order`.
constexpr int64_t vt_position(int64_t token, VtOrder order) {
  return order == VtOrder::natural ? token
                                   : (token & ~int64_t{15}) + vt_interleaved_position(token & 15);
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
  VtOrder v_token_order = VtOrder::natural;  // int8 V only
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
