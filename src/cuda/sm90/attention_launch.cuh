// Launcher of one Hopper attention kernel instantiation; included by the
// generated translation units (src/cuda/CMakeLists.txt), compiled for sm_90a only.
#pragma once

#include <cuda_runtime.h>

#include <atomic>

#include "common/cuda_check.hpp"
#include "cuda_internal.hpp"
#include "sm90/attention_kernel.cuh"

namespace intfa::cuda::sm90 {

template <class T>
void launch_attention(const Params& prm, int64_t num_ctas, cudaStream_t stream) {
  // Dynamic shared memory above 48 KB must be opted into, once per device.
  static std::atomic<uint64_t> configured{0};
  int device = 0;
  INTFA_CUDA_CHECK(cudaGetDevice(&device));
  const uint64_t bit = device < 64 ? (1ull << device) : 0;
  if (bit == 0 || (configured.load() & bit) == 0) {
    INTFA_CUDA_CHECK(cudaFuncSetAttribute(attention_kernel<T>,
                                          cudaFuncAttributeMaxDynamicSharedMemorySize,
                                          T::kSmemBytes));
    configured.fetch_or(bit);
  }
  attention_kernel<T><<<static_cast<unsigned>(num_ctas), T::kThreads, T::kSmemBytes, stream>>>(prm);
  check_launch("sm90 attention_kernel");
}

}  // namespace intfa::cuda::sm90

#define INTFA_INSTANTIATE_SM90_ATTENTION(D, MODE, BN, CONSUMERS)                          \
  template void intfa::cuda::sm90::launch_attention<                                      \
      intfa::cuda::sm90::Traits<D, intfa::cuda::PMode::MODE, BN, CONSUMERS>>(             \
      const intfa::cuda::sm90::Params&, int64_t, cudaStream_t);
