// The table of instantiated Hopper attention kernels, from the generated list
// sm90_configs.inc (src/cuda/CMakeLists.txt, INTFA_CUDA_SM90_CONFIGS and
// INTFA_CUDA_SM90_MMA_CONFIGS).
#include "cuda_internal.hpp"
#include "sm90/kernel_traits.hpp"

namespace intfa::cuda {

namespace {
#define INTFA_SM90_CONFIG(D, MODE, BN, C)                                                 \
  Sm90Config{Sm90Engine::wgmma,                                                      \
             D,                                                                      \
             PMode::MODE,                                                            \
             sm90::Traits<D, PMode::MODE, BN, C>::kBlockM,                                  \
             sm90::Traits<D, PMode::MODE, BN, C>::kBlockN,                                  \
             sm90::Traits<D, PMode::MODE, BN, C>::kQKSwizzle,                               \
             sm90::Traits<D, PMode::MODE, BN, C>::kSmemBytes,                               \
             sm90::Traits<D, PMode::MODE, BN, C>::kThreads,                                 \
             &sm90::launch_attention<sm90::Traits<D, PMode::MODE, BN, C>>},
// The mma.sync kernel with TMA copies: one panel of D bytes per Q̂ / K̂ row.
#define INTFA_SM90_MMA_TRAITS(D, MODE, BN, WARPS, SCHED) \
  KernelTraits<D, PMode::MODE, BN, WARPS, LoopSchedule::SCHED, CopyEngine::tma>
#define INTFA_SM90_MMA_CONFIG(D, MODE, BN, WARPS, SCHED)                                   \
  Sm90Config{Sm90Engine::mma_sync,                                                       \
             D,                                                                          \
             PMode::MODE,                                                                \
             INTFA_SM90_MMA_TRAITS(D, MODE, BN, WARPS, SCHED)::kBlockM,                  \
             BN,                                                                         \
             D,                                                                          \
             INTFA_SM90_MMA_TRAITS(D, MODE, BN, WARPS, SCHED)::kSmemBytes,               \
             INTFA_SM90_MMA_TRAITS(D, MODE, BN, WARPS, SCHED)::kThreads,                 \
             &launch_attention_tma<INTFA_SM90_MMA_TRAITS(D, MODE, BN, WARPS, SCHED)>},
const Sm90Config kConfigs[] = {
#include "sm90_configs.inc"
};
#undef INTFA_SM90_CONFIG
#undef INTFA_SM90_MMA_CONFIG
#undef INTFA_SM90_MMA_TRAITS
}  // namespace

const Sm90Config* sm90_configs(int* count) {
  *count = static_cast<int>(sizeof(kConfigs) / sizeof(kConfigs[0]));
  return kConfigs;
}

}  // namespace intfa::cuda
