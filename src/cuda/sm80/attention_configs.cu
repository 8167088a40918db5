// The table of instantiated attention kernels, from the generated list
// attention_configs.inc (src/cuda/CMakeLists.txt, INTFA_CUDA_ATTENTION_CONFIGS).
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

}  // namespace intfa::cuda
