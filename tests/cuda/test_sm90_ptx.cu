// The Hopper inline-PTX layer (src/cuda/sm90/ptx_sm90.cuh) on the GPU: a TMA
// copy with 64- and 128-byte swizzling completing on an mbarrier, then wgmma
// products with both operands from shared memory (s8·s8) and with A from
// registers (s8·s8, u8·s8) in the documented fragment layout, against an
// integer product on the host; the first k step overwrites a garbage
// accumulator (scale-d = 0). Every accumulator element is checked, so a
// wrong descriptor, swizzle or fragment layout fails here before it can hide
// inside the attention kernel. Skips without an sm_90 GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "common/ptx.cuh"
#include "sm90/ptx_sm90.cuh"
#include "sm90/tma_host.hpp"

namespace intfa::cuda::sm90 {
namespace {

struct Maps {
  CUtensorMap a;  // A [64 rows, K bytes]
  CUtensorMap b;  // B [N rows, K bytes]
};

// Operand source of the probe: both from shared memory, or A from registers.
enum class Probe { ss_s8, rs_s8, rs_u8 };

template <int N, int K, Probe kProbe>
__global__ void __launch_bounds__(128) wgmma_probe(const __grid_constant__ Maps maps,
                                                   const uint8_t* a_global, int32_t* out) {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ __align__(1024) uint8_t tiles[64 * K + N * K];
  __shared__ __align__(8) uint64_t bar;
  const uint32_t a_smem = smem_u32(tiles), b_smem = a_smem + 64 * K, bar_addr = smem_u32(&bar);
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  if (tid == 0) {
    mbar_init(bar_addr, 1);
    mbar_init_fence();
  }
  __syncthreads();
  if (tid == 0) {
    mbar_arrive_expect_tx(bar_addr, 64 * K + N * K);
    tma_load_4d(a_smem, &maps.a, bar_addr, 0, 0, 0, 0);
    tma_load_4d(b_smem, &maps.b, bar_addr, 0, 0, 0, 0);
  }
  mbar_wait(bar_addr, 0);

  // Garbage in D: the first k step overwrites it (scale-d = 0, as the
  // attention kernel issues every product), the others accumulate. B's
  // descriptor is advanced from the k = 0 one (desc_advance), A's is encoded.
  int32_t d[N / 2];
#pragma unroll
  for (int i = 0; i < N / 2; ++i) d[i] = 0x5A5A5A5A + 977 * i;
  fence_registers(d);
  wgmma_fence();
  const uint64_t b_desc0 = smem_desc(b_smem, 8 * K, K);
#pragma unroll
  for (int kk = 0; kk < K / 32; ++kk) {
    const uint64_t b_desc = desc_advance(b_desc0, 32 * kk);
    if constexpr (kProbe == Probe::ss_s8) {
      if (kk == 0)
        Wgmma<N>::template ss_s8s8<false>(d, smem_desc(a_smem, 8 * K, K), b_desc);
      else
        Wgmma<N>::ss_s8s8(d, smem_desc(a_smem + 32 * kk, 8 * K, K), b_desc);
    } else {
      // A fragment straight from global memory, in the documented layout.
      uint32_t a[4];
#pragma unroll
      for (int r = 0; r < 4; ++r) {
        const int row = 16 * warp + g + 8 * (r & 1), col = 32 * kk + 16 * (r >> 1) + 4 * t;
        a[r] = *reinterpret_cast<const uint32_t*>(a_global + row * K + col);
      }
      if constexpr (kProbe == Probe::rs_s8) {
        if (kk == 0)
          Wgmma<N>::template rs_s8s8<false>(d, a, b_desc);
        else
          Wgmma<N>::rs_s8s8(d, a, b_desc);
      } else {
        if (kk == 0)
          Wgmma<N>::template rs_u8s8<false>(d, a, b_desc);
        else
          Wgmma<N>::rs_u8s8(d, a, b_desc);
      }
    }
  }
  wgmma_commit();
  wgmma_wait<0>();
  fence_registers(d);
#pragma unroll
  for (int j = 0; j < N / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      out[(16 * warp + g + 8 * (e >> 1)) * N + 8 * j + 2 * t + (e & 1)] = d[4 * j + e];
#else
  __trap();
#endif
}

bool have_sm90() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return (void)cudaGetLastError(), false;
  int major = 0, minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
  return major == 9 && minor == 0;
}

template <int N, int K, Probe kProbe>
void run_probe() {
  if (!have_sm90()) GTEST_SKIP() << "no compute capability 9.0 GPU: the wgmma/TMA probe needs sm_90";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> a(64 * K), b(N * K);
  for (auto& x : a) x = static_cast<uint8_t>(byte(rng));
  for (auto& x : b) x = static_cast<uint8_t>(byte(rng));
  uint8_t *da = nullptr, *db = nullptr;
  int32_t* dout = nullptr;
  ASSERT_EQ(cudaMalloc(&da, a.size()), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&db, b.size()), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&dout, 64 * N * 4), cudaSuccess);
  cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), b.size(), cudaMemcpyHostToDevice);
  cudaMemset(dout, 0xA5, 64 * N * 4);  // poison: every element must be written
  Maps maps{};
  std::string why;
  const uint64_t rows_a = 64, rows_b = N;
  ASSERT_TRUE(encode_tensor_map_4d(&maps.a, da, {K, rows_a, 1, 1}, {K, K * rows_a, K * rows_a},
                                   {K, 64, 1, 1}, K, &why))
      << why;
  ASSERT_TRUE(encode_tensor_map_4d(&maps.b, db, {K, rows_b, 1, 1}, {K, K * rows_b, K * rows_b},
                                   {K, N, 1, 1}, K, &why))
      << why;
  wgmma_probe<N, K, kProbe><<<1, 128>>>(maps, da, dout);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<int32_t> out(64 * N);
  cudaMemcpy(out.data(), dout, out.size() * 4, cudaMemcpyDeviceToHost);
  int wrong = 0;
  for (int m = 0; m < 64; ++m)
    for (int n = 0; n < N; ++n) {
      int32_t ref = 0;
      for (int k = 0; k < K; ++k) {
        const int av = kProbe == Probe::rs_u8 ? a[m * K + k] : static_cast<int8_t>(a[m * K + k]);
        ref += av * static_cast<int8_t>(b[n * K + k]);
      }
      if (out[m * N + n] != ref && ++wrong <= 5)
        ADD_FAILURE() << "D[" << m << "][" << n << "] = " << out[m * N + n] << ", expected " << ref;
    }
  EXPECT_EQ(wrong, 0);
  cudaFree(da), cudaFree(db), cudaFree(dout);
}

TEST(Sm90Ptx, SharedShared_N128_Swizzle128) { run_probe<128, 128, Probe::ss_s8>(); }
TEST(Sm90Ptx, SharedShared_N64_Swizzle64) { run_probe<64, 64, Probe::ss_s8>(); }
TEST(Sm90Ptx, RegisterA_S8_N128_Swizzle128) { run_probe<128, 128, Probe::rs_s8>(); }
TEST(Sm90Ptx, RegisterA_U8_N64_Swizzle128) { run_probe<64, 128, Probe::rs_u8>(); }
TEST(Sm90Ptx, RegisterA_U8_N128_Swizzle64) { run_probe<128, 64, Probe::rs_u8>(); }

}  // namespace
}  // namespace intfa::cuda::sm90
