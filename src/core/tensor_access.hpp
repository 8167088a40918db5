// Reading and writing rows of strided tensors in any supported element type,
// on the host. Conversions follow numeric.hpp (round half to even).
#pragma once

#include <cstdint>

#include "core/numeric.hpp"
#include "intfa/types.hpp"

namespace intfa::detail {

inline float load_element(const void* base, DType dtype, int64_t index) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(base)[index];
    case DType::f16: return numeric::half_bits_to_float(static_cast<const uint16_t*>(base)[index]);
    case DType::bf16: return numeric::bf16_bits_to_float(static_cast<const uint16_t*>(base)[index]);
    case DType::i8: return static_cast<float>(static_cast<const int8_t*>(base)[index]);
    case DType::u8: return static_cast<float>(static_cast<const uint8_t*>(base)[index]);
  }
  return 0.f;
}

// dst[0..dim) = t[b, s, h, 0..dim) as float.
inline void load_row(const TensorView& t, int64_t b, int64_t s, int64_t h, float* dst) {
  const int64_t offset = t.offset(b, s, h);
  switch (t.dtype) {
    case DType::f32: {
      const float* src = static_cast<const float*>(t.data) + offset;
      for (int64_t d = 0; d < t.dim; ++d) dst[d] = src[d];
      return;
    }
    case DType::f16: {
      const uint16_t* src = static_cast<const uint16_t*>(t.data) + offset;
      for (int64_t d = 0; d < t.dim; ++d) dst[d] = numeric::half_bits_to_float(src[d]);
      return;
    }
    case DType::bf16: {
      const uint16_t* src = static_cast<const uint16_t*>(t.data) + offset;
      for (int64_t d = 0; d < t.dim; ++d) dst[d] = numeric::bf16_bits_to_float(src[d]);
      return;
    }
    default:
      for (int64_t d = 0; d < t.dim; ++d) dst[d] = load_element(t.data, t.dtype, offset + d);
  }
}

// base[offset + 0..n) = src converted to dtype (f32, f16 or bf16).
inline void store_row(void* base, DType dtype, int64_t offset, const float* src, int64_t n) {
  switch (dtype) {
    case DType::f32: {
      float* dst = static_cast<float*>(base) + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
      return;
    }
    case DType::f16: {
      uint16_t* dst = static_cast<uint16_t*>(base) + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = numeric::float_to_half_bits(src[i]);
      return;
    }
    case DType::bf16: {
      uint16_t* dst = static_cast<uint16_t*>(base) + offset;
      for (int64_t i = 0; i < n; ++i) dst[i] = numeric::float_to_bf16_bits(src[i]);
      return;
    }
    default:
      return;  // validation rejects other output types
  }
}

}  // namespace intfa::detail
