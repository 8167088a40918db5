// intfa — INT8 FlashAttention.
// Basic vocabulary shared by every layer: element types, back-ends, recipes,
// tensor views and the error type. Free of framework types on purpose: a
// TensorView is a pointer plus sizes and strides, like a DLPack tensor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace intfa {

enum class DType : int32_t { f32 = 0, f16 = 1, bf16 = 2, i8 = 3, u8 = 4 };

// Size in bytes of one element.
std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

enum class Backend : int32_t {
  automatic = 0,  // CUDA when the data lives on a CUDA device, else CPU
  cpu = 1,
  cuda = 2,
};
const char* backend_name(Backend backend);
// Parses "cpu", "cuda" or "auto"; throws Error(invalid_argument) otherwise.
Backend parse_backend(std::string_view name);
// True when this build has the CUDA back-end and a CUDA device is visible.
bool cuda_available();

// ---------------------------------------------------------------------------
// Recipes. A recipe says how each of the three operands of attention and the
// probability matrix P are represented. Every knob of our `intfa` recipe can be
// switched on its own, so its effect on the error can be measured.
// ---------------------------------------------------------------------------

// Q and K.
enum class QKFormat : int32_t {
  int8_per_token = 0,   // one fp32 scale per (batch, head, token): s = amax/127
  fp16 = 1,             // rounded to fp16, products accumulated in fp32
  e4m3_per_tensor = 2,  // FP8 E4M3, one scale per whole tensor: s = amax/448
};

// V.
enum class VFormat : int32_t {
  int8_per_tensor = 0,   // one scale per (batch, kv head)
  int8_per_channel = 1,  // one scale per (batch, kv head, head-dim channel)
  fp16 = 2,              // rounded to fp16
  e4m3_per_tensor = 3,   // FP8 E4M3, one scale per whole tensor
};

// The probabilities P that multiply V.
enum class PFormat : int32_t {
  // paper: P = exp(S - m_running) in [0, 1], stored as round(127 P) in int8.
  int8_running_max = 0,
  // intfa: P = exp(S - m_block) relative to the row max of this key block,
  // stored as round(255 P) in uint8; exp(m_block - m_running) is folded into
  // the per-block dequantization and l is summed from the quantized P.
  uint8_block_max = 1,
  fp16 = 2,  // rounded to fp16, as FlashAttention-2 feeds its P·V product
  e4m3 = 3,  // rounded to E4M3 without a scale, as FlashAttention-3's FP8 path
};

struct Recipe {
  QKFormat qk = QKFormat::int8_per_token;
  bool smooth_k = true;  // subtract the per-channel mean of K over the keys
  VFormat v = VFormat::int8_per_channel;
  PFormat p = PFormat::uint8_block_max;

  static Recipe paper();       // INT-FlashAttention as published
  static Recipe intfa();       // our default: paper + smooth-k + v-channel + p-u8
  static Recipe half_int8();   // int8 Q/K, fp16 V and P
  static Recipe fp16();        // fp16 everywhere, fp32 accumulation
  static Recipe fp8_tensor();  // FlashAttention-3 style per-tensor FP8

  bool int8_qk() const { return qk == QKFormat::int8_per_token; }
  bool int8_v() const { return v == VFormat::int8_per_tensor || v == VFormat::int8_per_channel; }
  // Both products on 8-bit integer tensor cores.
  bool full_int8() const {
    return int8_qk() && int8_v() &&
           (p == PFormat::int8_running_max || p == PFormat::uint8_block_max);
  }
  friend bool operator==(const Recipe& a, const Recipe& b) {
    return a.qk == b.qk && a.smooth_k == b.smooth_k && a.v == b.v && a.p == b.p;
  }
  friend bool operator!=(const Recipe& a, const Recipe& b) { return !(a == b); }
};

// Parses a recipe name: a base (`paper`, `intfa`, `half-int8`, `fp16`,
// `fp8-tensor`) followed by any number of `+knob` / `-knob` with the knobs
// `smooth-k`, `v-channel`, `p-u8`. Example: `paper+p-u8`, `intfa-smooth-k`.
// Throws Error(invalid_argument) naming the offending part.
Recipe parse_recipe(std::string_view name);
// The canonical name: a base name when the recipe is one, else `paper+...`.
std::string recipe_name(const Recipe& recipe);

// ---------------------------------------------------------------------------
// Tensor views.
// ---------------------------------------------------------------------------

// A 4-D tensor with logical dimensions [batch, seq, heads, dim] (the
// FlashAttention convention) and arbitrary strides in elements, except that
// the last dimension must be contiguous (stride 1). Both memory layouts
//   [B, S, H, D] (bshd)  and  [B, H, S, D] (bhsd)
// are views of this kind, built by the two helpers below.
struct TensorView {
  void* data = nullptr;
  DType dtype = DType::f32;
  int64_t batch = 0, seq = 0, heads = 0, dim = 0;
  int64_t stride_batch = 0, stride_seq = 0, stride_head = 0;  // elements
  int64_t stride_dim = 1;  // must be 1: validation rejects anything else

  static TensorView bshd(const void* data, DType dtype, int64_t batch, int64_t seq,
                         int64_t heads, int64_t dim);
  static TensorView bhsd(const void* data, DType dtype, int64_t batch, int64_t seq,
                         int64_t heads, int64_t dim);

  // Element offset of (b, s, h, 0).
  int64_t offset(int64_t b, int64_t s, int64_t h) const {
    return b * stride_batch + s * stride_seq + h * stride_head;
  }
  std::size_t element_size() const { return dtype_size(dtype); }
};

// ---------------------------------------------------------------------------
// Errors. The C++ API throws intfa::Error; the C API turns it into a status
// code and a message. Messages name the argument and the values involved.
// ---------------------------------------------------------------------------
enum class StatusCode : int32_t {
  ok = 0,
  invalid_argument = 1,  // wrong shape, null pointer, unknown name, ...
  unsupported = 2,       // valid, but not supported by the chosen back-end
  nonfinite_input = 3,   // NaN or Inf in an input (see docs/NUMERICS.md)
  backend_unavailable = 4,
  cuda_error = 5,
  internal = 6,
};
const char* status_name(StatusCode code);

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

}  // namespace intfa
