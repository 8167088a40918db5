// The shared device helpers of src/cuda/common/ptx.cuh that turn the
// exponentials into 8-bit P̂ codes, on the GPU, against the CPU back-end's
// rule (rint, ties to even) computed exactly in double on the host:
//   round_to_int_bits  rint(q·p) as the bits of a subnormal float (one FMUL);
//   pack_bytes_sat     four integers into bytes 0..3 with saturation (I2IP).
// Both attention kernels build every P̂·V̂ operand with them, so a wrong byte
// order, a flushed subnormal (an -ftz build) or another tie rule fails here
// by name before it shows up as P̂ code flips in the attention tests. Skips
// without a GPU.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/ptx.cuh"
#include "cuda/cuda_test_util.hpp"

namespace intfa::cuda {
namespace {

__global__ void round_probe(const float* p, const uint32_t* q, uint32_t* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = round_to_int_bits(p[i], q[i]);
}

__global__ void pack_probe(const uint32_t* words, uint32_t* out_u8, uint32_t* out_s8, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const uint32_t* w = words + 4 * i;
  out_u8[i] = pack_bytes_sat<false>(w[0], w[1], w[2], w[3]);
  out_s8[i] = pack_bytes_sat<true>(w[0], w[1], w[2], w[3]);
}

template <class T>
struct DeviceArray {
  T* ptr = nullptr;
  explicit DeviceArray(size_t n) { EXPECT_EQ(cudaMalloc(&ptr, n * sizeof(T)), cudaSuccess); }
  ~DeviceArray() { cudaFree(ptr); }
};

}  // namespace

TEST(CudaPtxCommon, RoundToIntBitsIsRintTiesToEven) {
  INTFA_REQUIRE_GPU();
  auto rng = test::rng_for_test();
  std::vector<float> p;
  std::vector<uint32_t> q;
  // Exact ties and their neighbours with q = 1: k + 0.5 rounds to the even
  // integer, one ulp either side to the nearer one.
  for (int k = 0; k < 300; ++k) {
    const float tie = static_cast<float>(k) + 0.5f;
    for (float v : {tie, std::nextafter(tie, 0.f), std::nextafter(tie, 1e9f)}) {
      p.push_back(v);
      q.push_back(1u);
    }
  }
  // The kernels' cases: q = 255 (uint8 P) and 127 (int8 P), p in [0, 1],
  // fresh random values each run plus the ends and the smallest positives.
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  for (uint32_t qq : {255u, 127u}) {
    for (float v : {0.f, 1.f, 1e-30f, 1.f / 510.f, 0.5f, std::nextafter(1.f, 0.f)}) {
      p.push_back(v);
      q.push_back(qq);
    }
    for (int i = 0; i < 100000; ++i) {
      p.push_back(unit(rng));
      q.push_back(qq);
    }
  }
  const int n = static_cast<int>(p.size());
  DeviceArray<float> d_p(n);
  DeviceArray<uint32_t> d_q(n), d_out(n);
  INTFA_CUDA_OK(cudaMemcpy(d_p.ptr, p.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  INTFA_CUDA_OK(cudaMemcpy(d_q.ptr, q.data(), n * sizeof(uint32_t), cudaMemcpyHostToDevice));
  INTFA_CUDA_OK(cudaMemset(d_out.ptr, 0xA5, n * sizeof(uint32_t)));  // poison
  round_probe<<<(n + 255) / 256, 256>>>(d_p.ptr, d_q.ptr, d_out.ptr, n);
  INTFA_CUDA_OK(cudaGetLastError());
  std::vector<uint32_t> got(n);
  INTFA_CUDA_OK(cudaMemcpy(got.data(), d_out.ptr, n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  int wrong = 0;
  for (int i = 0; i < n; ++i) {
    // q·p is exact in double (24 + 9 bits); nearbyint rounds ties to even.
    const auto want = static_cast<uint32_t>(std::nearbyint(static_cast<double>(q[i]) * p[i]));
    if (got[i] != want && ++wrong <= 10)
      ADD_FAILURE() << "round_to_int_bits(" << p[i] << ", " << q[i] << ") = " << got[i]
                    << ", want " << want;
  }
  EXPECT_EQ(wrong, 0) << "of " << n;
}

TEST(CudaPtxCommon, PackBytesSatOrderAndSaturation) {
  INTFA_REQUIRE_GPU();
  auto rng = test::rng_for_test();
  std::uniform_int_distribution<int32_t> value(-400, 400);
  const int n = 50000;
  std::vector<uint32_t> words(4 * n);
  // Distinct in-range bytes first (the order is visible), then random values
  // that cross both saturation limits.
  for (int i = 0; i < 4 * n; ++i)
    words[i] = static_cast<uint32_t>(i < 4 * 64 ? (i % 4) * 37 + i / 4 : value(rng));
  DeviceArray<uint32_t> d_w(4 * n), d_u8(n), d_s8(n);
  INTFA_CUDA_OK(cudaMemcpy(d_w.ptr, words.data(), words.size() * sizeof(uint32_t),
                           cudaMemcpyHostToDevice));
  INTFA_CUDA_OK(cudaMemset(d_u8.ptr, 0xA5, n * sizeof(uint32_t)));
  INTFA_CUDA_OK(cudaMemset(d_s8.ptr, 0xA5, n * sizeof(uint32_t)));
  pack_probe<<<(n + 255) / 256, 256>>>(d_w.ptr, d_u8.ptr, d_s8.ptr, n);
  INTFA_CUDA_OK(cudaGetLastError());
  std::vector<uint32_t> u8(n), s8(n);
  INTFA_CUDA_OK(cudaMemcpy(u8.data(), d_u8.ptr, n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  INTFA_CUDA_OK(cudaMemcpy(s8.data(), d_s8.ptr, n * sizeof(uint32_t), cudaMemcpyDeviceToHost));
  int wrong = 0;
  for (int i = 0; i < n; ++i) {
    uint32_t want_u8 = 0, want_s8 = 0;
    for (int b = 0; b < 4; ++b) {
      const int32_t v = static_cast<int32_t>(words[4 * i + b]);
      want_u8 |= static_cast<uint32_t>(std::clamp(v, 0, 255)) << (8 * b);
      want_s8 |= (static_cast<uint32_t>(std::clamp(v, -128, 127)) & 0xFFu) << (8 * b);
    }
    if ((u8[i] != want_u8 || s8[i] != want_s8) && ++wrong <= 10)
      ADD_FAILURE() << "word " << i << ": u8 " << std::hex << u8[i] << " want " << want_u8
                    << ", s8 " << s8[i] << " want " << want_s8;
  }
  EXPECT_EQ(wrong, 0) << "of " << n;
}

}  // namespace intfa::cuda
