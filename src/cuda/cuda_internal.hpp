// Pieces shared by the CUDA back-end's translation units.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "intfa/types.hpp"
#include "sm80/kernel_params.hpp"
#include "sm80/kernel_traits.hpp"
#include "sm90/kernel_params.hpp"

namespace intfa::cuda {

[[noreturn]] inline void unsupported(const std::string& message) {
  throw Error(StatusCode::unsupported, message);
}

// One instantiated attention kernel (generated list: see src/cuda/CMakeLists.txt).
struct AttentionConfig {
  int32_t head_dim;
  PMode mode;
  int32_t block_n;
  int32_t smem_bytes;
  int32_t block_m;
  int32_t threads;
  LoopSchedule schedule;
  void (*launch)(const KernelParams&, int64_t num_ctas, cudaStream_t stream);
};

template <class T>
void launch_attention(const KernelParams& p, int64_t num_ctas, cudaStream_t stream);

// All instantiated kernels; the first entry for a (head dim, mode) is the
// default key block.
const AttentionConfig* attention_configs(int* count);

// One instantiated Hopper (wgmma) attention kernel; its key block is fixed.
struct Sm90Config {
  int32_t head_dim;
  PMode mode;
  int32_t block_m;
  int32_t block_n;
  int32_t qk_swizzle;  // bytes: column panel width of the Q̂ / K̂ tiles
  int32_t k_box_rows;  // keys per K̂ TMA box
  int32_t v_box_rows;  // channels per V̂ᵀ TMA box
  int32_t v_swizzle;   // bytes: token panel width of the V̂ᵀ tile (keys per V̂ᵀ TMA box)
  int32_t smem_bytes;
  int32_t threads;
  void (*launch)(const sm90::Params&, int64_t num_ctas, cudaStream_t stream);
};

namespace sm90 {
template <class T>
void launch_attention(const Params& p, int64_t num_ctas, cudaStream_t stream);
}

// All instantiated Hopper kernels (only in builds for sm_90a, INTFA_HAVE_SM90).
const Sm90Config* sm90_configs(int* count);

}  // namespace intfa::cuda
