// The table of instantiated attention kernels, from the generated list
// attention_configs.inc (src/cuda/CMakeLists.txt, INTFA_CUDA_ATTENTION_CONFIGS),
// and the grid of a launch.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "cuda_internal.hpp"

namespace intfa::cuda {

namespace {
#define INTFA_ATTENTION_TRAITS(D, MODE, BN, WARPS, SCHED) \
  KernelTraits<D, PMode::MODE, BN, WARPS, LoopSchedule::SCHED>
#define INTFA_ATTENTION_CONFIG(D, MODE, BN, WARPS, SCHED)                                    \
  AttentionConfig{D,                                                                       \
                  PMode::MODE,                                                             \
                  BN,                                                                      \
                  INTFA_ATTENTION_TRAITS(D, MODE, BN, WARPS, SCHED)::kSmemBytes,           \
                  INTFA_ATTENTION_TRAITS(D, MODE, BN, WARPS, SCHED)::kBlockM,              \
                  INTFA_ATTENTION_TRAITS(D, MODE, BN, WARPS, SCHED)::kThreads,             \
                  LoopSchedule::SCHED,                                                     \
                  &launch_attention<INTFA_ATTENTION_TRAITS(D, MODE, BN, WARPS, SCHED)>},
const AttentionConfig kConfigs[] = {
#include "attention_configs.inc"
};
#undef INTFA_ATTENTION_CONFIG
#undef INTFA_ATTENTION_TRAITS
}  // namespace

const AttentionConfig* attention_configs(int* count) {
  *count = static_cast<int>(sizeof(kConfigs) / sizeof(kConfigs[0]));
  return kConfigs;
}

int tiles_per_cta() {
#ifdef INTFA_SM80_DEFAULT_TILES_PER_CTA
  constexpr int kDefault = INTFA_SM80_DEFAULT_TILES_PER_CTA;
#else
  constexpr int kDefault = 1;
#endif
  // Read at every launch (a getenv), so that tests can switch it.
  const char* env = std::getenv("INTFA_SM80_TILES_PER_CTA");
  if (env == nullptr || *env == '\0') return kDefault;
  char* end = nullptr;
  const long v = std::strtol(env, &end, 10);
  if (*end != '\0' || v < 0 || v > 1 << 20)
    throw Error(StatusCode::invalid_argument,
                std::string("INTFA_SM80_TILES_PER_CTA must be a whole number from 0 to 2^20 "
                            "(0: one CTA per resident slot), not '") + env + "'");
  return static_cast<int>(v);
}

int64_t attention_grid(const KernelParams& p, int block_n, int ahead_blocks,
                       int64_t (*resident_ctas)()) {
  const int64_t tiles = p.num_tiles;
  const int per_cta = tiles_per_cta();
  const int key_blocks = static_cast<int>((static_cast<int64_t>(p.seqlen_k) + block_n - 1) / block_n);
  if (per_cta == 1 || p.causal || key_blocks <= ahead_blocks) return tiles;
  if (per_cta == 0) return std::min(tiles, resident_ctas());
  return (tiles + per_cta - 1) / per_cta;
}

}  // namespace intfa::cuda
