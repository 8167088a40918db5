// The argument of the Hopper attention kernel: the mma.sync kernel's
// KernelParams plus the TMA descriptors of Q̂, K̂ and V̂ᵀ (encoded on the host
// per call, passed as a __grid_constant__ parameter so the copy engine reads
// them from parameter memory).
#pragma once

#include <cuda.h>  // CUtensorMap (a type only: nothing from the driver library is linked)

#include "sm80/kernel_params.hpp"

namespace intfa::cuda::sm90 {

struct Params {
  CUtensorMap tma_q;  // Q̂ [B, Sq, H, D] as dims (D, H, Sq, B), box (panel, 1, kBlockM, 1)
  CUtensorMap tma_k;  // K̂ [B, Sk, Hk, D] as dims (D, Hk, Sk, B), box (panel, 1, kKBoxRows, 1)
  CUtensorMap tma_v;  // V̂ᵀ [B, Hk, D, Sk_pad] as dims (Sk_pad, D, Hk, B), box (kBlockN, kVBoxRows, 1, 1)
  KernelParams p;
};

}  // namespace intfa::cuda::sm90
