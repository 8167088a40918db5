// The CPU back-end: quantization, the tiled INT8 FlashAttention kernel, the
// direct (untiled) emulation it must match bit for bit, and the float64
// reference. Entry points take validated arguments (src/core/validate.hpp).
#pragma once

#include <cstdint>

#include "intfa/params.hpp"
#include "intfa/types.hpp"

namespace intfa::cpu {

// Rows of queries per task of the tiled kernel (one task = batch, head, block).
inline constexpr int32_t kQueryBlock = 64;
// Default keys per softmax block (AttentionParams::kv_block).
inline constexpr int32_t kDefaultKvBlock = 64;

// Quantization (see intfa.hpp for the contracts).
void channel_mean(const TensorView& k, float* mean);
void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale);
void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset);
void quantize_v(const TensorView& v, VFormat format, int8_t* vt, float* scale);

// Float baselines: writes `out` (f32, same logical shape, contiguous bshd) with
// each element rounded to the format and divided by its scale, and the scales
// in the per-token / per-channel arrays (equal values for per-tensor formats).
//   QK: scale [B, H, S];  V: scale [B, H, D].
void prepare_float_qk(const TensorView& x, QKFormat format, float* out, float* scale);
void prepare_float_v(const TensorView& v, VFormat format, float* out, float* scale);

// Attention on prepared operands.
void attention_tiled(const AttentionParams& params);
// Direct emulation: one query row at a time, dot products read straight from
// the strided operands, no tiles, no transposes. Same results bit for bit as
// attention_tiled (the float operations are shared through numeric.hpp and
// softmax_row.hpp, the loop structure is not).
void attention_emulated(const AttentionParams& params);

// Exact float64 attention; out [B, Sq, H, D] contiguous, lse [B, H, Sq] or null.
void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out, double* lse, bool causal, double softmax_scale);

}  // namespace intfa::cpu
