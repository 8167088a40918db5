// Number formats and the exact quantization rules, shared by every back-end.
// Everything here is a pure function usable on the host and in CUDA code, so
// the CPU back-end and the GPU kernels round in exactly the same way:
// round half to even everywhere (what cvt.rni / __float2int_rn / cvt.rn do).
// See docs/NUMERICS.md for the rules in words.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define INTFA_HD __host__ __device__ __forceinline__
#else
#define INTFA_HD inline
#endif

namespace intfa::numeric {

INTFA_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
INTFA_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// ---- fp16 (IEEE binary16), round to nearest even, overflow to inf ----------
INTFA_HD uint16_t float_to_half_bits(float f) {
  uint32_t x = float_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<uint16_t>(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Result is subnormal (or zero): units of 2^-24; the scaling is exact.
    const float scaled = bits_float(x) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(rintf(scaled)));
  }
  const uint32_t rounded = x + 0x0fffu + ((x >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

INTFA_HD float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;  // 2^-24
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

// ---- bf16, round to nearest even ------------------------------------------
INTFA_HD uint16_t float_to_bf16_bits(float f) {
  const uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // quiet NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
INTFA_HD float bf16_bits_to_float(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

INTFA_HD float round_to_fp16(float f) { return half_bits_to_float(float_to_half_bits(f)); }
INTFA_HD float round_to_bf16(float f) { return bf16_bits_to_float(float_to_bf16_bits(f)); }

// ---- FP8 E4M3 (the "fn" variant: no inf, max 448) ---------------------------
// Round to nearest even, saturating to ±448 like cvt.rn.satfinite.e4m3x2.f32.
// Returns the rounded value as a float (the CPU baselines compute on floats).
inline constexpr float kE4M3Max = 448.0f;
INTFA_HD float round_to_e4m3(float f) {
  if (f != f) return f;
  const float a = fminf(fabsf(f), kE4M3Max);
  float rounded;
  if (a < 0.015625f) {  // below the smallest normal 2^-6: subnormal steps of 2^-9
    rounded = rintf(a * 512.0f) * 0.001953125f;
  } else {
    // Normal: 3 mantissa bits, step 2^(e-3). Both scalings are exact.
    const int e = static_cast<int>((float_bits(a) >> 23) & 0xffu) - 127;
    const float step = bits_float(static_cast<uint32_t>(e - 3 + 127) << 23);
    const float inv_step = bits_float(static_cast<uint32_t>(3 - e + 127) << 23);
    rounded = fminf(rintf(a * inv_step) * step, kE4M3Max);
  }
  return f < 0 ? -rounded : rounded;
}

// ---- per-token INT8 --------------------------------------------------------
// For a vector x with a = max |x| (finite):
//   a == 0:  x̂ = 0, s = 0
//   else:    inv = 127 / a (fp32, correctly rounded), x̂ = clamp(rint(x · inv), ±127), s = a / 127
// x · inv is one correctly rounded fp32 product (never fused with anything).
inline constexpr float kInt8Max = 127.0f;
inline constexpr float kUint8Max = 255.0f;

INTFA_HD float int8_inverse_scale(float amax) { return amax > 0.f ? kInt8Max / amax : 0.f; }
INTFA_HD float int8_scale(float amax) { return amax / kInt8Max; }
INTFA_HD int8_t quantize_int8(float x, float inverse_scale) {
  const float r = rintf(x * inverse_scale);
#if defined(__CUDA_ARCH__)
  return static_cast<int8_t>(fminf(fmaxf(r, -kInt8Max), kInt8Max));
#else
  // Comparisons, not fminf/fmaxf: on the host those are library calls (NaN
  // rules) in the hot loop. Same result for the finite inputs that reach here.
  return static_cast<int8_t>(r < -kInt8Max ? -kInt8Max : (r > kInt8Max ? kInt8Max : r));
#endif
}

// ---- softmax pieces (log2 domain) ------------------------------------------
// Scores are kept in log2 units: s = score · softmax_scale · log2(e), so the
// exponentials are exp2. These helpers fix the order of the float operations so
// that the tiled CPU kernel and the direct emulation agree bit for bit.

// Per-row factor folded once per query: q_scale · softmax_scale · log2(e).
INTFA_HD float row_score_factor(float q_scale, float score_scale_log2) {
  return q_scale * score_scale_log2;
}
// Score of one (query, key) pair from the exact int32 dot product.
INTFA_HD float score_from_dot(int32_t dot, float row_factor, float k_scale) {
  return static_cast<float>(dot) * (row_factor * k_scale);
}
INTFA_HD float score_from_dot(float dot, float row_factor, float k_scale) {
  return dot * (row_factor * k_scale);
}

// P quantization. p is in [0, 1].
INTFA_HD int8_t quantize_p_int8(float p) { return static_cast<int8_t>(rintf(p * kInt8Max)); }
INTFA_HD uint8_t quantize_p_uint8(float p) { return static_cast<uint8_t>(rintf(p * kUint8Max)); }

inline constexpr float kInv127 = 1.0f / 127.0f;
inline constexpr float kInv255 = 1.0f / 255.0f;

}  // namespace intfa::numeric
