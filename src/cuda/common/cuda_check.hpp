// CUDA runtime errors -> intfa::Error(cuda_error) with the CUDA error string.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "intfa/types.hpp"

namespace intfa::cuda {

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what) {
  throw Error(StatusCode::cuda_error, std::string("CUDA error in ") + what + ": " +
                                          cudaGetErrorString(e) + " (" + cudaGetErrorName(e) +
                                          ")");
}

inline void check_cuda(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so later calls start clean
    throw_cuda_error(e, what);
  }
}

// After a kernel launch: configuration errors are reported at once.
inline void check_launch(const char* kernel) { check_cuda(cudaGetLastError(), kernel); }

// Dynamic shared memory above 48 KB must be opted into per kernel and device;
// `configured` (one per kernel instantiation) remembers the devices done.
template <class Kernel>
void opt_in_shared_memory(Kernel kernel, int bytes, std::atomic<uint64_t>& configured) {
  int device = 0;
  check_cuda(cudaGetDevice(&device), "cudaGetDevice");
  const uint64_t bit = device < 64 ? (1ull << device) : 0;
  if (bit != 0 && (configured.load() & bit) != 0) return;
  check_cuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes),
             "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  configured.fetch_or(bit);
}

}  // namespace intfa::cuda

#define INTFA_CUDA_CHECK(expr) ::intfa::cuda::check_cuda((expr), #expr)
