// The table of instantiated attention kernels, from the generated list
// attention_configs.inc (src/cuda/CMakeLists.txt, INTFA_CUDA_ATTENTION_CONFIGS).
#include "cuda_internal.hpp"

namespace intfa::cuda {

namespace {
#define INTFA_ATTENTION_CONFIG(D, MODE, BN, WARPS, PIPE)                                   \
  AttentionConfig{D,                                                                   \
                  PMode::MODE,                                                         \
                  BN,                                                                  \
                  KernelTraits<D, PMode::MODE, BN, WARPS, PIPE>::kSmemBytes,                 \
                  KernelTraits<D, PMode::MODE, BN, WARPS, PIPE>::kBlockM,                    \
                  KernelTraits<D, PMode::MODE, BN, WARPS, PIPE>::kThreads,                   \
                  PIPE != 0,                                                                    \
                  &launch_attention<KernelTraits<D, PMode::MODE, BN, WARPS, PIPE>>},
const AttentionConfig kConfigs[] = {
#include "attention_configs.inc"
};
#undef INTFA_ATTENTION_CONFIG
}  // namespace

const AttentionConfig* attention_configs(int* count) {
  *count = static_cast<int>(sizeof(kConfigs) / sizeof(kConfigs[0]));
  return kConfigs;
}

}  // namespace intfa::cuda
