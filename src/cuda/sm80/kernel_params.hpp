// The argument of the mma.sync attention kernel: AttentionParams reduced to
// what the device needs, with the derived sizes precomputed on the host.
#pragma once

#include <cstdint>

namespace intfa::cuda {

enum class OutType : int32_t { f32 = 0, f16 = 1, bf16 = 2 };

struct KernelParams {
  const int8_t* q = nullptr;  // Q̂ [B, Sq, H, D], strides in bytes (= elements)
  const int8_t* k = nullptr;  // K̂ [B, Sk, Hk, D]
  const void* v = nullptr;    // V̂ᵀ [B, Hk, D, Sk_pad] int8, or V [B, Sk, Hk, D] f16/bf16
  int64_t q_batch_stride = 0, q_row_stride = 0, q_head_stride = 0;
  int64_t k_batch_stride = 0, k_row_stride = 0, k_head_stride = 0;
  int64_t v_batch_stride = 0, v_row_stride = 0, v_head_stride = 0;  // elements of V
  const float* q_scale = nullptr;     // [B, H, Sq]
  const float* k_scale = nullptr;     // [B, Hk, Sk]
  const float* v_scale = nullptr;     // [B, Hk, D]; null: 1 (half-int8)
  const float* lse_offset = nullptr;  // [B, H, Sq] or null
  void* out = nullptr;                // O [B, Sq, H, D]
  int64_t o_batch_stride = 0, o_row_stride = 0, o_head_stride = 0;
  OutType out_type = OutType::f32;
  float* lse = nullptr;  // [B, H, Sq] or null

  int32_t batch = 0, heads = 0, kv_heads = 0, head_ratio = 1;
  int32_t seqlen_q = 0, seqlen_k = 0;
  int32_t num_q_blocks = 0;
  float score_scale_log2 = 0.f;  // softmax_scale · log2(e)
  float softmax_scale = 0.f;
  bool causal = false;
};

}  // namespace intfa::cuda
