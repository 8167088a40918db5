// The thin inline-PTX layer of the Hopper (sm_90a) kernels: mbarriers, the
// bulk tensor copy (TMA), wgmma and its shared-memory matrix descriptors, and
// warpgroup register reallocation. One PTX instruction per wrapper; compiled
// only for sm_90a (wgmma and setmaxnreg do not exist elsewhere).
// tests/cuda/test_sm90_ptx.cu checks TMA + wgmma products against the host.
//
// wgmma fragment layouts (PTX ISA, "Asynchronous Warpgroup Level Matrix
// Multiply-Accumulate"), for warp w (0..3) of the warpgroup, g = lane / 4,
// t = lane % 4:
//   D (m64nN, s32/f32): d[4j + 0, 1] = D[16w + g][8j + 2t, +1]
//                       d[4j + 2, 3] = D[16w + g + 8][8j + 2t, +1]
//   A from registers (m64nNk32, 8-bit): a[0] = A[16w + g][4t..4t+3]
//       a[1] = A[16w + g + 8][4t..+3], a[2] = A[16w + g][16 + 4t..+3],
//       a[3] = A[16w + g + 8][16 + 4t..+3] (low byte = lowest column)
// 8-bit operands in shared memory are K-major (each row of A, and each column
// of B, is contiguous along K).
#pragma once

#include <cstdint>

namespace intfa::cuda::sm90 {

// ---- mbarrier -------------------------------------------------------------------
__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Makes initialized barriers visible to the other threads and to the async
// proxy (TMA) before first use; a __syncthreads must follow.
__device__ __forceinline__ void mbar_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives and announces `bytes` more to be delivered by async copies
// (complete_tx) before the phase can complete.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
// Blocks until the phase with parity `parity` has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n"
      ".reg .pred done;\n"
      "WAIT_%=:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT_%=;\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}

// ---- named barriers (bar.sync / bar.arrive on ids 1..15; 0 is __syncthreads) -----------
// `threads` counts every thread of the warps that sync or arrive (a multiple
// of 32). A sync waits until that many have arrived, itself included; an
// arrive counts without waiting.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// ---- TMA ----------------------------------------------------------------------------
// Copies the 4-d box at coordinates (c0 innermost .. c3) of the tensor map at
// `map` (a __grid_constant__ kernel parameter) to shared memory at `dst`;
// completion is counted on `bar` in bytes. Out-of-range elements read as zero.
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const void* map, uint32_t bar, int c0,
                                            int c1, int c2, int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%3, %4, %5, %6}], [%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
__device__ __forceinline__ void prefetch_tensor_map(const void* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// ---- register reallocation between warpgroups -------------------------------------------
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}
template <int kRegs>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(kRegs));
}

// ---- wgmma -------------------------------------------------------------------------------
// Shared-memory matrix descriptor of a K-major tile stored as 8-row groups
// `group_bytes` apart (8 rows × the swizzle width), rows swizzled by
// `swizzle_bytes` (128 or 64; the tile base aligned to 1024 bytes). The start
// address may point inside a row (k offsets of 32 bytes): the hardware
// applies the swizzle to the final address, as the TMA did when writing.
__device__ __forceinline__ uint64_t smem_desc(uint32_t addr, uint32_t group_bytes,
                                              int swizzle_bytes) {
  const uint64_t mode = swizzle_bytes == 128 ? 1 : (swizzle_bytes == 64 ? 2 : 3);
  return static_cast<uint64_t>((addr & 0x3FFFF) >> 4) | (uint64_t{1} << 16) |
         (static_cast<uint64_t>(group_bytes >> 4) << 32) | (mode << 62);
}

// The descriptor of the same tile `bytes` further on: the start address field
// (bits 0-13, address / 16) grows by bytes / 16, which cannot carry out of
// the field because shared addresses stay below 2^18 (228 KB). One 64-bit add
// instead of re-encoding the address per k step.
__device__ __forceinline__ uint64_t desc_advance(uint64_t desc, uint32_t bytes) {
  return desc + (bytes >> 4);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// wgmma_wait<n> for an n known only after unrolling (0..3).
__device__ __forceinline__ void wgmma_wait_pending(int n) {
  switch (n) {
    case 0: wgmma_wait<0>(); break;
    case 1: wgmma_wait<1>(); break;
    case 2: wgmma_wait<2>(); break;
    default: wgmma_wait<3>(); break;
  }
}
// Pins accumulator registers at this point of the program, so the compiler
// does not move their reads or writes across an asynchronous wgmma.
template <int N>
__device__ __forceinline__ void fence_registers(int32_t (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
// The same for the registers [kBegin, kEnd) of an accumulator (one half of a
// split product).
template <int kBegin, int kEnd, int N>
__device__ __forceinline__ void fence_registers_range(int32_t (&r)[N]) {
  static_assert(0 <= kBegin && kBegin < kEnd && kEnd <= N, "a range of the accumulator");
#pragma unroll
  for (int i = kBegin; i < kEnd; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
// The same for float registers: keeps their computation before a later
// wgmma wait (otherwise the compiler may sink it past the wait).
template <int N>
__device__ __forceinline__ void fence_registers(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}

// D += A·B, m64nNk32, s32 accumulators (generated wrappers: Wgmma<N>::ss_s8s8,
// rs_s8s8, rs_u8s8; see gen_wgmma.py).
template <int N>
struct Wgmma;
#include "sm90/wgmma_ops.inc"

}  // namespace intfa::cuda::sm90
