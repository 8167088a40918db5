// The thin inline-PTX layer of the mma.sync kernels (sm_80 and later):
// 8-bit and 16-bit tensor-core products, ldmatrix, cp.async, fast exp2 and the
// exact conversions. Every wrapper is one PTX instruction (or a fixed short
// sequence), so the SASS of the kernels maps onto these lines one to one.
//
// Fragment layouts (PTX ISA, "Matrix fragments for mma.m16n8k32" and
// "mma.m16n8k16"), with g = lane / 4 (group) and t = lane % 4 (thread in group):
//   m16n8k32 s8/u8 A (16x32, row):  a[0] = A[g][4t..4t+3]     a[1] = A[g+8][4t..4t+3]
//                                   a[2] = A[g][16+4t..+3]    a[3] = A[g+8][16+4t..+3]
//   m16n8k32 s8 B (32x8, col):      b[0] = B[4t..4t+3][g]     b[1] = B[16+4t..+3][g]
//   m16n8k16 f16 A (16x16, row):    a[0] = A[g][2t,2t+1]      a[1] = A[g+8][2t,2t+1]
//                                   a[2] = A[g][8+2t,+1]      a[3] = A[g+8][8+2t,+1]
//   m16n8k16 f16 B (16x8, col):     b[0] = B[2t,2t+1][g]      b[1] = B[8+2t,+1][g]
//   C/D (16x8, s32 or f32):         c[0],c[1] = C[g][2t,2t+1] c[2],c[3] = C[g+8][2t,2t+1]
// The low byte/half of each 32-bit register holds the lowest column index.
#pragma once

#include <cstdint>

namespace intfa::cuda {

// ---- shared-memory addresses ------------------------------------------------
__device__ __forceinline__ uint32_t smem_u32(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

// ---- cp.async (global -> shared, bypassing registers) -----------------------
// 16 bytes, L2 only (.cg). src_bytes = 0 writes 16 zero bytes and reads nothing
// (the address must still be a valid global address).
// Two floats from a shared-memory address (8-byte aligned); a 32-bit shared
// address avoids the generic-to-shared conversion of a pointer.
__device__ __forceinline__ float2 lds_f32x2(uint32_t addr) {
  float2 v;
  asm volatile("ld.shared.v2.f32 {%0, %1}, [%2];\n" : "=f"(v.x), "=f"(v.y) : "r"(addr));
  return v;
}
__device__ __forceinline__ void cp_async_16(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes)
               : "memory");
}
// 4 bytes (.ca), same zero-fill rule.
__device__ __forceinline__ void cp_async_4(uint32_t dst, const void* src, int src_bytes) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
// Waits until at most N of this thread's committed groups are still pending.
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ---- ldmatrix ----------------------------------------------------------------
// Four 8x8 matrices of b16 elements (for 8-bit data: 8 rows of 16 bytes). Lane
// 8i+r supplies the address of row r of matrix i; register i of every lane
// receives matrix i with lane l holding row l/4, bytes 4(l%4)..4(l%4)+3.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
// Transposed: lane l receives column l/4, rows 2(l%4) and 2(l%4)+1 (16-bit data).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// ---- tensor-core products ------------------------------------------------------
// D = A·B + C, int8 x int8 -> int32 (exact; no saturation).
__device__ __forceinline__ void mma_s8s8(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// uint8 x int8 -> int32 (P̂ in [0, 255] times V̂).
__device__ __forceinline__ void mma_u8s8(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// D = A·B + C with C a separate (read-only) quad: starts an accumulation from
// a constant, e.g. the int -> float magic bias (int_to_float_biased) held in
// registers once for the whole kernel.
__device__ __forceinline__ void mma_s8s8_from(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                              uint32_t b1, const int32_t (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c[0]), "r"(c[1]),
        "r"(c[2]), "r"(c[3]));
}
__device__ __forceinline__ void mma_u8s8_from(int32_t (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                              uint32_t b1, const int32_t (&c)[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %11, %12, %13};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c[0]), "r"(c[1]),
        "r"(c[2]), "r"(c[3]));
}
// f16 x f16 -> f32 and bf16 x bf16 -> f32.
__device__ __forceinline__ void mma_f16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ---- arithmetic -----------------------------------------------------------------
// 2^x on the special-function unit (MUFU.EX2): relative error about 2^-22,
// ex2(-inf) = +0, ex2(0) = 1. Subnormal results flush to zero (.ftz), which for
// P means values below 2^-126: far under any quantization step.
__device__ __forceinline__ float ex2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Exact int32 -> float for |x| < 2^22 without the (quarter-rate) I2F unit:
// the bits 0x4B400000 + x are the float 1.5·2^23 + x exactly, and subtracting
// 1.5·2^23 is exact. The caller guarantees the range (|dot| <= 127²·256 and
// |P̂·V̂| <= 255·127·BlockN stay below 2^22 = 4194304).
inline constexpr int32_t kMagicBits = 0x4B400000;
inline constexpr float kMagicFloat = 12582912.0f;  // 1.5 * 2^23
__device__ __forceinline__ float int_to_float_exact22(int32_t x) {
  return __int_as_float(x + kMagicBits) - kMagicFloat;
}
// The same when the accumulation already started from kMagicBits (the mma
// added the bias): one FADD.
__device__ __forceinline__ float int_to_float_biased(int32_t biased) {
  return __int_as_float(biased) - kMagicFloat;
}

// rint(q·p) for an integer q < 2^23 and q·p ≥ 0, as an integer: the bits of
// the subnormal float q·p·2^-149. The multiplier is the subnormal whose bits
// are q; the exact product rounds once to a multiple of 2^-149, ties to
// even, which is rint (ties to even) on q·p, as the CPU back-end rounds. One
// FMUL, and the word is the integer itself, so four of them pack into bytes
// with two I2IPs (pack_bytes_sat) where the 2^23 magic-number FFMA left the
// code in the low byte of a float and took three PRMTs to gather: measured
// on the H100 +1-2% for the mma.sync kernel and within the noise for the
// wgmma kernel (docs/PERF.md). mul.rn without .ftz keeps subnormals whatever
// the compiler's -ftz setting.
__device__ __forceinline__ uint32_t round_to_int_bits(float p, uint32_t q) {
  float r;
  asm("mul.rn.f32 %0, %1, %2;\n" : "=f"(r) : "f"(p), "f"(__uint_as_float(q)));
  return __float_as_uint(r);
}
// Packs four integers into bytes 0..3 (byte i = b_i), saturated to 0..255
// (u8) or −128..127 (s8). Two I2IPs: cvt.pack.sat gives c << 16 | sat(a) << 8
// | sat(b).
template <bool kSigned>
__device__ __forceinline__ uint32_t pack_bytes_sat(uint32_t b0, uint32_t b1, uint32_t b2,
                                                   uint32_t b3) {
  uint32_t hi, r;
  if constexpr (kSigned) {
    asm("cvt.pack.sat.s8.s32.b32 %0, %1, %2, 0;\n" : "=r"(hi) : "r"(b3), "r"(b2));
    asm("cvt.pack.sat.s8.s32.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(b1), "r"(b0), "r"(hi));
  } else {
    asm("cvt.pack.sat.u8.s32.b32 %0, %1, %2, 0;\n" : "=r"(hi) : "r"(b3), "r"(b2));
    asm("cvt.pack.sat.u8.s32.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(b1), "r"(b0), "r"(hi));
  }
  return r;
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
__device__ __forceinline__ uint32_t pack_bf162(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// ---- diagnostics (trace builds: INTFA_SM80_TRACE, INTFA_SM90_TRACE) ---------------
__device__ __forceinline__ uint64_t globaltimer_ns() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;\n" : "=l"(t));
  return t;
}
__device__ __forceinline__ uint32_t smid() {
  uint32_t id;
  asm volatile("mov.u32 %0, %%smid;\n" : "=r"(id));
  return id;
}

}  // namespace intfa::cuda
