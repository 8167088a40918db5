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
#include <string_view>
#include <vector>

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
  // Token order of V̂ᵀ (quantize_v, quantize()); see VtOrder in params.hpp and
  // docs/NUMERICS.md. nullopt: the back-end's default, default_vt_order() —
  // natural on the CPU; on CUDA the order the current device's fastest
  // kernel reads (interleaved16 on sm_90 with the Hopper kernels). Every order
  // is accepted by attention_quantized() on every back-end; an order the
  // chosen kernel does not read costs one reordering pass over V̂ᵀ per call.
  std::optional<VtOrder> vt_order;

  QuantizeOptions() = default;
  QuantizeOptions(Backend b, void* s = nullptr, std::optional<VtOrder> order = std::nullopt)
      : backend(b), stream(s), vt_order(order) {}
};

// "natural" / "interleaved16"; parse_vt_order throws Error(invalid_argument)
// for any other name.
const char* vt_order_name(VtOrder order);
VtOrder parse_vt_order(std::string_view name);

// The V̂ᵀ order quantize_v() writes when QuantizeOptions::vt_order is nullopt:
// natural for Backend::cpu; for Backend::cuda the order of the fastest kernel
// of the current device (natural when CUDA is not built). Backend::automatic
// throws Error(invalid_argument): the back-end depends on where the data lives.
VtOrder default_vt_order(Backend backend);

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
// attention adds back to the log-sum-exp (softmax itself is unchanged). Q is
// not smoothed: with k_mean null (no LSE wanted) the offsets are skipped.
void quantize_q(const TensorView& q, const TensorView& out, float* scale,
                const float* k_mean, int64_t kv_heads, float* lse_offset,
                const QuantizeOptions& opt = {});

// V to INT8 in the layout the P·V product needs: V̂ᵀ [B, Hk, D, Sk_pad]
// (token-contiguous, zero padded to Sk_pad = padded_kv_length(Sk)), with
// scales [B, Hk, D] (per-tensor: all D entries equal). Token t of a channel
// row sits at position vt_position(t, order), order = opt.vt_order or the
// back-end's default_vt_order(); the order written is returned. Pass it on as
// QuantizedInputs::vt_order (quantize() does this itself).
VtOrder quantize_v(const TensorView& v, VFormat format, int8_t* vt, float* scale,
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
  const float* lse_offset = nullptr;   // [B, H, Sq]; smooth-k: needed for an LSE
  TensorView k;                        // i8 [B, Sk, Hk, D]
  const float* k_scale = nullptr;      // [B, Hk, Sk]
  // int8 V (paper, intfa): V̂ᵀ [B, Hk, D, Sk_pad] and scales [B, Hk, D].
  const int8_t* vt = nullptr;
  const float* v_scale = nullptr;
  VtOrder vt_order = VtOrder::natural;  // the order quantize_v() returned
  // fp16 / bf16 V (half-int8): [B, Sk, Hk, D].
  TensorView v;
};

// Element counts of the buffers quantize() writes for a problem; 0 where the
// recipe does not use a buffer.
struct QuantizedSizes {
  int64_t q8 = 0, k8 = 0;              // int8 [B, Sq, H, D], [B, Sk, Hk, D] (bshd, contiguous)
  int64_t q_scale = 0, k_scale = 0;    // fp32 [B, H, Sq], [B, Hk, Sk]
  int64_t k_mean = 0, lse_offset = 0;  // fp32 [B, Hk, D], [B, H, Sq] (smooth-k)
  int64_t vt = 0, v_scale = 0;         // int8 [B, Hk, D, Sk_pad], fp32 [B, Hk, D] (int8 V)
  int64_t v16 = 0;                     // fp16 bits [B, Sk, Hk, D] (half-int8 with f32 V)
};
QuantizedSizes quantized_sizes(int64_t batch, int64_t heads, int64_t kv_heads, int64_t seqlen_q,
                               int64_t seqlen_k, int64_t head_dim, const Recipe& recipe,
                               DType v_dtype);

// Caller-owned storage, sized by quantized_sizes() (host or device memory,
// matching the back-end). Pointers the recipe does not use may be null.
struct QuantizedBuffers {
  int8_t* q8 = nullptr;
  int8_t* k8 = nullptr;
  float* q_scale = nullptr;
  float* k_scale = nullptr;
  float* k_mean = nullptr;
  // Smooth-k recipes: Q's lse_offset (q · k_mean, a float64 dot per token).
  // Only an LSE needs it: left null, quantize() skips it, and
  // attention_quantized() on those inputs refuses to return an LSE.
  float* lse_offset = nullptr;
  int8_t* vt = nullptr;
  float* v_scale = nullptr;
  uint16_t* v16 = nullptr;
};

// Quantizes q, k, v ([B, S, H, D] f32/f16/bf16) as `recipe` prescribes
// (int8-Q/K recipes): K's channel mean when smoothing, per-token K and Q (with
// Q's lse_offset), and V to int8 V̂ᵀ in the order opt.vt_order (default: the
// back-end's default_vt_order()) or, for half-int8, to 16 bits (fp16/bf16
// inputs are used in place; f32 is rounded to fp16 on the CPU). Returns views
// of the buffers ready for attention_quantized(), with vt_order filled in.
// CUDA: V's kernels run on a second stream of the calling host thread
// (created on first use per device and kept), ordered after the work already
// queued on opt.stream, and opt.stream waits for them before the call
// returns, so everything after it on opt.stream sees all the buffers.
QuantizedInputs quantize(const TensorView& q, const TensorView& k, const TensorView& v,
                         const Recipe& recipe, const QuantizedBuffers& buffers,
                         const QuantizeOptions& opt = {});

// quantize() into host memory that this object owns (CPU back-end, V̂ᵀ in
// natural order).
class HostQuantized {
 public:
  HostQuantized(const TensorView& q, const TensorView& k, const TensorView& v,
                const Recipe& recipe);
  const QuantizedInputs& inputs() const { return inputs_; }

 private:
  std::vector<int8_t> q8_, k8_, vt_;
  std::vector<float> q_scale_, k_scale_, k_mean_, lse_offset_, v_scale_;
  std::vector<uint16_t> v16_;
  QuantizedInputs inputs_;
};

// Attention on quantized inputs.
//   out [B, Sq, H, D] f32 / f16 / bf16;  lse [B, H, Sq] fp32 or null.
// in.vt_order must be the order V̂ᵀ was written in. Any order runs on any
// back-end: when the kernel that runs these inputs reads another order (the
// CPU reads natural only), V̂ᵀ is first copied into that order (scratch of
// V̂ᵀ's size, one pass); results are the same for every order.
void attention_quantized(const QuantizedInputs& in, const TensorView& out, float* lse,
                         const AttentionOptions& opt = {});

// One call: quantizes q, k, v ([B, S, H, D] f32/f16/bf16, any strides with a
// contiguous last dimension) with opt.recipe and computes attention. V̂ᵀ is
// written in attention_vt_order() (the order of the kernel that runs fastest).
// Float baselines (fp16, fp8-tensor) are computed on the CPU back-end only.
void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& out, float* lse = nullptr, const AttentionOptions& opt = {});

// The V̂ᵀ order attention() quantizes V in for these arguments: natural on the
// CPU back-end and for recipes without int8 V; on CUDA the order read by the
// kernel that runs this problem fastest (for 16-byte aligned quantized
// buffers). Quantizing with it (QuantizeOptions::vt_order) makes
// attention_quantized() run the kernel attention() runs, with no reordering.
// Validates the arguments as attention() does.
VtOrder attention_vt_order(const TensorView& q, const TensorView& k, const TensorView& v,
                           const TensorView& out, float* lse = nullptr,
                           const AttentionOptions& opt = {});

// Exact attention in float64 on the CPU (the reference for error studies).
// Inputs as for attention() (host memory); out [B, Sq, H, D] and lse
// [B, H, Sq] (or null) are contiguous float64.
void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out /* [B, Sq, H, D] contiguous */, double* lse,
                         bool causal, std::optional<float> softmax_scale = std::nullopt);

// The key-block size a back-end uses when AttentionOptions::kv_block is 0.
int32_t default_kv_block(Backend backend, const Recipe& recipe, int64_t head_dim);

// Which back-end `automatic` resolves to for data at `ptr` (CUDA when the
// pointer is CUDA device memory, else CPU).
Backend resolve_backend(Backend requested, const void* ptr);

}  // namespace intfa
