// The CPU back-end: quantization, the tiled INT8 FlashAttention kernel, the
// direct (untiled) emulation it must match bit for bit, and the float64
// reference. Entry points take validated arguments (src/core/validate.hpp).
#pragma once

#include <cstdint>
#include <optional>

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
// V̂ᵀ with token t of each channel row at vt_position(t, order).
void quantize_v(const TensorView& v, VFormat format, VtOrder order, int8_t* vt, float* scale);
// Copies `rows` contiguous V̂ᵀ rows of seq_padded bytes (a multiple of 16) from
// order `from` to order `to` (src and dst must not overlap).
void reorder_vt(const int8_t* src, VtOrder from, int8_t* dst, VtOrder to, int64_t rows,
                int64_t seq_padded);

// V for half-int8 from f32 input: fp16 bits, contiguous [B, S, H, D].
void convert_to_fp16(const TensorView& x, uint16_t* out);

// Float baselines: writes `out` (f32, same logical shape, contiguous bshd) with
// each element rounded to the format and divided by its scale, and the scales
// in the per-token / per-channel arrays (equal values for per-tensor formats).
//   QK: scale [B, H, S];  V: scale [B, H, D].
void prepare_float_qk(const TensorView& x, QKFormat format, float* out, float* scale);
void prepare_float_v(const TensorView& v, VFormat format, float* out, float* scale);

// Attention on prepared operands (int8 V̂ᵀ in natural order: every entry point
// below throws Error(unsupported) for AttentionParams::v_token_order
// interleaved16; the public attention_quantized() reorders first). Runs the vectorized kernel of the selected
// ISA (cpu/isa.hpp) when the recipe has one (int8 Q/K with int8 V and int8 or
// uint8 P, or fp16 P with float V), else the portable tiled kernel; every
// path gives the same bits as attention_emulated.
void attention_tiled(const AttentionParams& params);
// Throws Error(unsupported) unless int8 V̂ᵀ is in natural order (float V: no-op).
void require_natural_vt(const AttentionParams& params);
// The portable (scalar) tiled kernel, whatever the ISA selection says.
void attention_tiled_scalar(const AttentionParams& params);
// Direct emulation: one query row at a time, dot products read straight from
// the strided operands, no tiles, no transposes. Same results bit for bit as
// attention_tiled (the float operations are shared through numeric.hpp and
// softmax_row.hpp, the loop structure is not).
void attention_emulated(const AttentionParams& params);

// Float32 flash attention, the CPU baseline for timing the INT8 kernels: same
// tiling and threading, fp32 products with FMA, a polynomial exp2, no rounding
// of P. Built for every ISA (cpu/isa.hpp selects, as for attention_tiled).
//   params form: q/k f32 [B, S, H, D] and v f32 [B, Sk, Hk, D] (the float-V
//   layout of AttentionParams), out f32/f16/bf16, lse optional; the q/k/v
//   scales and lse_offset are ignored; kv_block 0 means 64.
void attention_f32_flash(const AttentionParams& params);
// The same from views: q [B, Sq, H, D], k and v [B, Sk, Hk, D], all f32 with
// any strides (dim contiguous); out f32/f16/bf16; lse [B, H, Sq] or null.
// Validates like the public API (throws intfa::Error).
void attention_f32_flash(const TensorView& q, const TensorView& k, const TensorView& v,
                         const TensorView& out, float* lse, bool causal,
                         std::optional<float> softmax_scale = std::nullopt,
                         int32_t kv_block = 0);

// Exact float64 attention; out [B, Sq, H, D] contiguous, lse [B, H, Sq] or null.
void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out, double* lse, bool causal, double softmax_scale);

}  // namespace intfa::cpu
