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
  void (*launch)(const KernelParams&, cudaStream_t stream);  // p.num_tiles tiles
};

template <class T>
void launch_attention(const KernelParams& p, cudaStream_t stream);

// CTAs of an mma.sync launch of p.num_tiles tiles. One per tile, unless every
// tile has the same key blocks, more than `ahead_blocks` of them
// (non-causal), so that a CTA can run on into a next tile without draining
// its copy pipeline: then tiles / tiles_per_cta CTAs, 0 meaning one CTA per
// resident slot (`resident_ctas`, the device's SMs times the kernel's
// occupancy; a function, so that it is only queried when needed), which take
// the remaining tiles from a counter (KernelParams::tile_counter).
int64_t attention_grid(const KernelParams& p, int block_n, int ahead_blocks,
                       int64_t (*resident_ctas)());
// Tiles per CTA of attention_grid: INTFA_SM80_TILES_PER_CTA (a timing hook,
// docs/PERF.md), else the default.
int tiles_per_cta();

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
