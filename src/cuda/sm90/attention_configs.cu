// The table of instantiated Hopper attention kernels, from the generated list
// sm90_configs.inc (src/cuda/CMakeLists.txt, INTFA_CUDA_SM90_CONFIGS).
#include "cuda_internal.hpp"
#include "sm90/kernel_traits.hpp"

namespace intfa::cuda {

namespace {
#define INTFA_SM90_CONFIG(D, MODE, BN, C)                                                 \
  Sm90Config{D,                                                                      \
             PMode::MODE,                                                            \
             sm90::Traits<D, PMode::MODE, BN, C>::kBlockM,                                  \
             sm90::Traits<D, PMode::MODE, BN, C>::kBlockN,                                  \
             sm90::Traits<D, PMode::MODE, BN, C>::kQKSwizzle,                               \
             sm90::Traits<D, PMode::MODE, BN, C>::kKBoxRows,                                \
             sm90::Traits<D, PMode::MODE, BN, C>::kVBoxRows,                                \
             sm90::Traits<D, PMode::MODE, BN, C>::kVSwizzle,                                \
             sm90::Traits<D, PMode::MODE, BN, C>::kSmemBytes,                               \
             sm90::Traits<D, PMode::MODE, BN, C>::kThreads,                                 \
             &sm90::launch_attention<sm90::Traits<D, PMode::MODE, BN, C>>},
const Sm90Config kConfigs[] = {
#include "sm90_configs.inc"
};
#undef INTFA_SM90_CONFIG
}  // namespace

const Sm90Config* sm90_configs(int* count) {
  *count = static_cast<int>(sizeof(kConfigs) / sizeof(kConfigs[0]));
  return kConfigs;
}

}  // namespace intfa::cuda
