// Helpers for the CUDA test suites: skipping without a GPU, device buffers
// with poisoned guard regions, and f16/bf16 conversions on the host.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/numeric.hpp"
#include "cpu/test_util.hpp"
#include "intfa/intfa.hpp"

#define INTFA_REQUIRE_GPU()                                                                 \
  do {                                                                                      \
    if (!::intfa::cuda_available())                                                         \
      GTEST_SKIP() << "no CUDA device: intfa was built with CUDA but cudaGetDeviceCount "   \
                      "found no GPU (these tests run on a GPU machine, see bench/gpu.sh)";   \
  } while (0)

#define INTFA_CUDA_OK(expr)                                                          \
  do {                                                                               \
    const cudaError_t e_ = (expr);                                                   \
    ASSERT_EQ(e_, cudaSuccess) << #expr << ": " << cudaGetErrorString(e_);           \
  } while (0)

namespace intfa::test {

inline void print_seed_once() {
  static bool printed = false;
  if (!printed) {
    printed = true;
    std::printf("[ intfa ] random seed %llu (replay with INTFA_TEST_SEED)\n",
                static_cast<unsigned long long>(run_seed()));
  }
}

// Device memory with `guard` poisoned bytes before and after the payload. The
// whole allocation starts as 0xFF bytes (NaN in f32, f16 and bf16).
class GuardedBuffer {
 public:
  static constexpr size_t kGuard = 4096;
  explicit GuardedBuffer(size_t bytes) : bytes_(bytes) {
    EXPECT_EQ(cudaMalloc(&base_, bytes_ + 2 * kGuard), cudaSuccess);
    poison();
  }
  ~GuardedBuffer() { cudaFree(base_); }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  void* get() const { return static_cast<uint8_t*>(base_) + kGuard; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(get());
  }
  size_t bytes() const { return bytes_; }
  void poison() { EXPECT_EQ(cudaMemset(base_, 0xff, bytes_ + 2 * kGuard), cudaSuccess); }
  void upload(const void* host, size_t n) {
    EXPECT_LE(n, bytes_);
    EXPECT_EQ(cudaMemcpy(get(), host, n, cudaMemcpyHostToDevice), cudaSuccess);
  }
  template <typename T>
  std::vector<T> download() const {
    std::vector<T> out(bytes_ / sizeof(T));
    EXPECT_EQ(cudaMemcpy(out.data(), get(), out.size() * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return out;
  }
  // Number of guard bytes that are no longer 0xFF (written out of bounds).
  size_t guard_damage() const {
    std::vector<uint8_t> all(bytes_ + 2 * kGuard);
    EXPECT_EQ(cudaMemcpy(all.data(), base_, all.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    size_t bad = 0;
    for (size_t i = 0; i < kGuard; ++i) bad += all[i] != 0xff;
    for (size_t i = kGuard + bytes_; i < all.size(); ++i) bad += all[i] != 0xff;
    return bad;
  }

 private:
  void* base_ = nullptr;
  size_t bytes_;
};

// Host f32 -> element bytes of `dtype` (f32, f16, bf16), round to nearest even.
inline std::vector<uint8_t> encode(const std::vector<float>& x, DType dtype) {
  std::vector<uint8_t> out(x.size() * dtype_size(dtype));
  for (size_t i = 0; i < x.size(); ++i) {
    if (dtype == DType::f32) {
      std::memcpy(&out[4 * i], &x[i], 4);
    } else {
      const uint16_t h = dtype == DType::f16 ? numeric::float_to_half_bits(x[i])
                                             : numeric::float_to_bf16_bits(x[i]);
      std::memcpy(&out[2 * i], &h, 2);
    }
  }
  return out;
}

inline float decode(const void* base, DType dtype, size_t i) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(base)[i];
    case DType::f16: return numeric::half_bits_to_float(static_cast<const uint16_t*>(base)[i]);
    case DType::bf16: return numeric::bf16_bits_to_float(static_cast<const uint16_t*>(base)[i]);
    default: return 0.f;
  }
}

// One unit in the last place of the output format at |x| (0 for f32 here:
// fp32 rounding is covered by the relative float term).
inline double out_ulp(double x, DType dtype) {
  const double a = std::fabs(x) > 6.2e-5 ? std::fabs(x) : 6.2e-5;
  const int e = static_cast<int>(std::floor(std::log2(a)));
  if (dtype == DType::f16) return std::ldexp(1.0, e - 10);
  if (dtype == DType::bf16) return std::ldexp(1.0, e - 7);
  return 0.0;
}

}  // namespace intfa::test
