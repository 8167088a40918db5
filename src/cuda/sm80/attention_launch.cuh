// Launcher of one attention kernel instantiation. Included by the generated
// translation units (one per configuration, see src/cuda/CMakeLists.txt), so
// each kernel compiles on its own and a 2-core CI machine builds them in
// parallel.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#ifdef INTFA_SM80_TRACE
#include <algorithm>
#include <cstdio>
#include <vector>
#endif

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
#ifdef INTFA_SM80_TRACE
  // Trace builds only: the stamps of the warps on SMs 0 and 1, in the format
  // of the wgmma kernel's trace (bench/sm90_trace_summary.py; "consumer" =
  // warp, t0..t5 = entry, Q̂, first block, loop done, end, rows finished).
  const int64_t records = std::min<int64_t>(num_ctas * T::kWarps, kSm80TraceWarps);
  std::vector<Sm80TraceRecord> host(static_cast<size_t>(records));
  INTFA_CUDA_CHECK(cudaStreamSynchronize(stream));
  INTFA_CUDA_CHECK(cudaMemcpyFromSymbol(host.data(), g_sm80_trace, host.size() * sizeof(Sm80TraceRecord)));
  for (int64_t i = 0; i < records; ++i) {
    const Sm80TraceRecord& r = host[static_cast<size_t>(i)];
    if (r.sm >= 2) continue;
    std::printf("TRACE sm %u cta %lld consumer %lld blocks %u %llu %llu %llu %llu %llu %llu\n", r.sm,
                static_cast<long long>(i / T::kWarps), static_cast<long long>(i % T::kWarps), r.blocks,
                r.t[0], r.t[1], r.t[2], r.t[3], r.t[4], r.t[5]);
  }
#endif
}

}  // namespace intfa::cuda

#define INTFA_INSTANTIATE_ATTENTION(D, MODE, BN, WARPS, SCHED)                                 \
  template void intfa::cuda::launch_attention<intfa::cuda::KernelTraits<                       \
      D, intfa::cuda::PMode::MODE, BN, WARPS, intfa::cuda::LoopSchedule::SCHED>>(              \
      const intfa::cuda::KernelParams&, int64_t, cudaStream_t);
