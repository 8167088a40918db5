// Entry points of the per-ISA CPU kernels (internal to src/cpu). The public
// side of the selection is cpu/isa.hpp; attention_cpu.cpp dispatches.
#pragma once

#include <cstdint>

#include "intfa/params.hpp"

namespace intfa::cpu::simd {

// Whether the integer SIMD kernels handle these parameters: int8 Q/K and
// either int8 V with int8/uint8 P, or float V with fp16 P (half-int8).
bool int_kernel_supports(const AttentionParams& p);

// INT8 attention, bit-identical to attention_emulated (see docs/PERF.md, CPU back-end).
void attention_int_avx2(const AttentionParams& p);
void attention_int_avx512(const AttentionParams& p);
void attention_int_avx512_vnni(const AttentionParams& p);

// Float32 flash attention baselines (see attention_f32_flash in cpu_backend.hpp).
void attention_f32_scalar(const AttentionParams& p);
void attention_f32_avx2(const AttentionParams& p);
void attention_f32_avx512(const AttentionParams& p);

// Number of x in `xs` (all <= 0 or -inf) whose vectorized exp2 differs from
// libm exp2f bit for bit; n must be a multiple of 16.
int64_t exp2_mismatches_avx2(const float* xs, int64_t n);
int64_t exp2_mismatches_avx512(const float* xs, int64_t n);
// Largest |255·exp2_fast(x) - 255·exp2f(x)| over xs (n a multiple of 16): the
// uint8 P fast path is exact while this stays below kPFastMargin.
double p_u8_fast_error_avx2(const float* xs, int64_t n);
double p_u8_fast_error_avx512(const float* xs, int64_t n);
// The uint8 P fast path: P = rint(255 · exp2_fast(x)) unless 255 · exp2_fast(x)
// lies within kPFastMargin of a rounding boundary (k + 1/2), where the exact
// exp2 decides. Exact whenever the fast exp2's error (times 255) is below the
// margin: measured at ~3e-5 on every float in [-150, 0] (tests/simd), the
// margin is 1/256.
inline constexpr float kPFastMargin = 1.0f / 256;

// Whether the SIMD kernels may use their vectorized exp2 (checked once against
// libm on a sample; cpu/isa.hpp: simd_exp2_matches_libm).
bool exp2_vector_ok_avx2();
bool exp2_vector_ok_avx512();

// Shared, baseline-compiled helpers for the kernels ---------------------------

// Final normalization and store of `rows` query rows starting at q_begin of
// (b, h), from a transposed accumulator acc_t[d * stride + i] and the row
// states m[i], l[i] (as softmax_row.hpp's RowState). Uses finish_row, so the
// output equals the tiled kernel's bit for bit.
void finish_rows(const AttentionParams& p, int64_t b, int64_t h, int64_t q_begin, int64_t rows,
                 const float* acc_t, int64_t stride, const float* m, const float* l);

// Runs fn(b, h, q_begin, q_end) over every (batch, head, block of `rows`
// queries) on the library's worker threads.
void for_each_query_block(const AttentionParams& p, int64_t rows,
                          void (*fn)(const AttentionParams&, int64_t, int64_t, int64_t, int64_t,
                                     void*),
                          void* ctx);

// Float V rows [n, D] of (b, hk) from key n0 into dst (f16/bf16/f32 → f32).
void load_float_v(const AttentionParams& p, int64_t b, int64_t hk, int64_t n0, int64_t n,
                  float* dst);

}  // namespace intfa::cpu::simd
