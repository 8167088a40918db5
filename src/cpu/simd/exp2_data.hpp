// The constants of glibc's exp2f (sysdeps/ieee754/flt-32/e_exp2f.c and
// e_exp2f_data.c, the algorithm glibc has used since 2.28, shared with musl and
// ARM's optimized-routines): exp2(x) = 2^(k/32) · p(r), x = k/32 + r,
// |r| <= 1/64, computed in double and rounded once to float.
//
// The vectorized exp2 of the SIMD kernels repeats exactly these double
// operations, so it returns the same float as glibc's exp2f for every input
// the kernels pass (x <= 0): tests/simd/test_exp2.cpp checks all ~1.1e9 floats
// in [-150, 0] against the libm of the running process, and the kernels check
// a sample at first use (falling back to calling exp2f if it ever differs).
#pragma once

#include <cstdint>

namespace intfa::cpu::simd {

// tab[i] = bits(2^(i/32)) - (i << 47)
alignas(64) inline constexpr uint64_t kExp2fTable[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
inline constexpr double kExp2fShift = 0x1.8p+47;  // 0x1.8p52 / 32
inline constexpr double kExp2fC0 = 0x1.c6af84b912394p-5;
inline constexpr double kExp2fC1 = 0x1.ebfce50fac4f3p-3;
inline constexpr double kExp2fC2 = 0x1.62e42ff0c52d6p-1;

// Special inputs, as glibc: x <= -150 (and -inf) gives 0, -150 < x < -149
// gives the smallest subnormal (its "may underflow" path); x >= 128 and NaN
// never occur in the kernels and are handed to exp2f itself.
inline constexpr float kExp2fZeroBelow = -150.0f;
inline constexpr float kExp2fTinyBelow = -149.0f;
inline constexpr float kExp2fTiny = 0x1p-149f;

// The sample the kernels check at first use: every 4093th float in [-150, 0]
// plus the boundaries (see isa.cpp).
int64_t exp2_check_sample(float* xs, int64_t capacity);

}  // namespace intfa::cpu::simd
