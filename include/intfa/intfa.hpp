// intfa — INT8 FlashAttention: the C++ API.
//
//   #include <intfa/intfa.hpp>
//   auto q = intfa::TensorView::bshd(q_ptr, intfa::DType::f16, B, Sq, H, D);
//   ...
//   intfa::AttentionOptions opt;            // recipe intfa, auto back-end
//   opt.causal = true;
//   intfa::attention(q, k, v, out, opt);    // quantizes, then INT8 attention
//
// Every function validates its arguments and throws intfa::Error with a
// message that names the argument; nothing is computed on bad input.
// Memory: CPU back-end arguments are host pointers; CUDA back-end arguments are
// device pointers and the work is queued on `stream` (the default stream when
// null).
#pragma once

#include <cstdint>
#include <optional>

#include "intfa/params.hpp"
#include "intfa/types.hpp"

namespace intfa {

const char* version();

// ---------------------------------------------------------------------------
// Quantization (per-token INT8, see docs/NUMERICS.md for the rounding rules).
// Scales are fp32 and dequantize as x ≈ x̂ · s. An all-zero token gets s = 0
// and x̂ = 0. A NaN or Inf in the input throws Error(nonfinite_input).
// ---------------------------------------------------------------------------
struct QuantizeOptions {
  Backend backend = Backend::automatic;
  void* stream = nullptr;
};

// Per-channel mean of K over its tokens: mean [B, Hk, D].
void channel_mean(const TensorView& k, float* mean, const QuantizeOptions& opt = {});

// Per-token quantization of K (or any [B, S, H, D] operand).
//   x      [B, S, H, D] f32/f16/bf16
//   mean   [B, H, D] subtracted from every token before quantizing (K
//          smoothing), or null
//   out    [B, S, H, D] i8 (any strides, dim contiguous)
//   scale  [B, H, S] fp32, contiguous
void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale, const QuantizeOptions& opt = {});

// Per-token quantization of Q; when K is smoothed (k_mean [B, Hk, D] not null)
// also writes lse_offset [B, H, S] = q · k_mean of its KV head, which the
// attention adds back to the log-sum-exp (softmax itself is unchanged).
void quantize_q(const TensorView& q, const TensorView& out, float* scale,
                const float* k_mean, int64_t kv_heads, float* lse_offset,
                const QuantizeOptions& opt = {});

// V to INT8 in the layout the P·V product needs: V̂ᵀ [B, Hk, D, Sk_pad]
// (token-contiguous, zero padded to Sk_pad = padded_kv_length(Sk)), with
// scales [B, Hk, D] (per-tensor: all D entries equal).
void quantize_v(const TensorView& v, VFormat format, int8_t* vt, float* scale,
                const QuantizeOptions& opt = {});

// ---------------------------------------------------------------------------
// Attention.
// ---------------------------------------------------------------------------
struct AttentionOptions {
  bool causal = false;  // bottom-right aligned when Sq != Sk (FlashAttention 2/3)
  std::optional<float> softmax_scale;  // default 1/sqrt(D)
  Recipe recipe = Recipe::intfa();
  Backend backend = Backend::automatic;
  int32_t kv_block = 0;  // keys per softmax block; 0 = the back-end's default
  void* stream = nullptr;
};

// Views of already-quantized inputs (all from the functions above).
struct QuantizedInputs {
  Recipe recipe = Recipe::intfa();
  TensorView q;                        // i8 [B, Sq, H, D]
  const float* q_scale = nullptr;      // [B, H, Sq]
  const float* lse_offset = nullptr;   // [B, H, Sq] or null
  TensorView k;                        // i8 [B, Sk, Hk, D]
  const float* k_scale = nullptr;      // [B, Hk, Sk]
  // int8 V (paper, intfa): V̂ᵀ [B, Hk, D, Sk_pad] and scales [B, Hk, D].
  const int8_t* vt = nullptr;
  const float* v_scale = nullptr;
  // fp16 / bf16 V (half-int8): [B, Sk, Hk, D].
  TensorView v;
};

// Attention on quantized inputs.
//   out [B, Sq, H, D] f32 / f16 / bf16;  lse [B, H, Sq] fp32 or null.
void attention_quantized(const QuantizedInputs& in, const TensorView& out, float* lse,
                         const AttentionOptions& opt = {});

// One call: quantizes q, k, v ([B, S, H, D] f32/f16/bf16, any strides with a
// contiguous last dimension) with opt.recipe and computes attention.
// Float baselines (fp16, fp8-tensor) are computed on the CPU back-end only.
void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& out, float* lse = nullptr, const AttentionOptions& opt = {});

// Exact attention in float64 on the CPU (the reference for error studies).
// Inputs as for attention(); out must be f32 (or use the double overload).
void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out /* [B, Sq, H, D] contiguous */, double* lse,
                         bool causal, std::optional<float> softmax_scale = std::nullopt);

// The key-block size a back-end uses when AttentionOptions::kv_block is 0.
int32_t default_kv_block(Backend backend, const Recipe& recipe, int64_t head_dim);

// Which back-end `automatic` resolves to for data at `ptr` (CUDA when the
// pointer is CUDA device memory, else CPU).
Backend resolve_backend(Backend requested, const void* ptr);

}  // namespace intfa
