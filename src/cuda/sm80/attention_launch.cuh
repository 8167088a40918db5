// Launcher of one attention kernel instantiation. Included by the generated
// translation units (one per configuration, see src/cuda/CMakeLists.txt), so
// each kernel compiles on its own and a 2-core CI machine builds them in
// parallel.
#pragma once

#include <cuda_runtime.h>

#include <atomic>

#include "common/cuda_check.hpp"
#include "cuda_internal.hpp"
#include "sm80/attention_kernel.cuh"

namespace intfa::cuda {

template <class T>
void launch_attention(const KernelParams& p, int64_t num_ctas, cudaStream_t stream) {
  static std::atomic<uint64_t> configured{0};
  opt_in_shared_memory(attention_kernel<T>, T::kSmemBytes, configured);
  attention_kernel<T><<<static_cast<unsigned>(num_ctas), T::kThreads, T::kSmemBytes, stream>>>(p);
  check_launch("attention_kernel");
}

}  // namespace intfa::cuda

#define INTFA_INSTANTIATE_ATTENTION(D, MODE, BN, WARPS, SCHED)                                 \
  template void intfa::cuda::launch_attention<intfa::cuda::KernelTraits<                       \
      D, intfa::cuda::PMode::MODE, BN, WARPS, intfa::cuda::LoopSchedule::SCHED>>(              \
      const intfa::cuda::KernelParams&, int64_t, cudaStream_t);
