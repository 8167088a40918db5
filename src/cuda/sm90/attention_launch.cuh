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
  static std::atomic<uint64_t> configured{0};
  opt_in_shared_memory(attention_kernel<T>, T::kSmemBytes, configured);
  attention_kernel<T><<<static_cast<unsigned>(num_ctas), T::kThreads, T::kSmemBytes, stream>>>(prm);
  check_launch("sm90 attention_kernel");
}

}  // namespace intfa::cuda::sm90

#define INTFA_INSTANTIATE_SM90_ATTENTION(D, MODE, BN, CONSUMERS)                          \
  template void intfa::cuda::sm90::launch_attention<                                      \
      intfa::cuda::sm90::Traits<D, intfa::cuda::PMode::MODE, BN, CONSUMERS>>(             \
      const intfa::cuda::sm90::Params&, int64_t, cudaStream_t);
