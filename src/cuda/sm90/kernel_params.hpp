// The argument of the Hopper attention kernel: the mma.sync kernel's
// KernelParams plus the TMA descriptors of Q̂, K̂ and V̂ᵀ (encoded on the host
// per call, passed as a __grid_constant__ parameter so the copy engine reads
// them from parameter memory), and the persistent kernel's work items.
#pragma once

#include <cuda.h>  // CUtensorMap (a type only: nothing from the driver library is linked)

#include <cstdint>

#include "core/numeric.hpp"  // INTFA_HD
#include "sm80/kernel_params.hpp"

namespace intfa::cuda::sm90 {

struct Params {
  CUtensorMap tma_q;  // Q̂ [B, Sq, H, D] as dims (D, H, Sq, B), box (panel, 1, kBlockM, 1)
  CUtensorMap tma_k;  // K̂ [B, Sk, Hk, D] as dims (D, Hk, Sk, B), box (panel, 1, kBlockN, 1)
  CUtensorMap tma_v;  // V̂ᵀ [B, Hk, D, Sk_pad] as dims (Sk_pad, D, Hk, B), box (kBlockN, D, 1, 1)
  KernelParams p;
};

// ---- work items of the persistent kernel -----------------------------------------
// The kernel runs at most one CTA per SM; CTA c takes items c, c + gridDim.x,
// ... An item is one query tile (num_q_blocks per head), or with causal
// masking the pair of tiles qb' = num_q_blocks − 1 − k and qb = k of one head
// (one tile when they coincide): their key-block counts sum to about
// num_q_blocks + 1 whatever k is, so items cost the same and the static
// stride balances the CTAs (a stride over single causal tiles would give
// each CTA the same query block of every head when the stride is a multiple
// of num_q_blocks). Items are head-major with the query tile fastest, so the
// CTAs running together work on few heads and share their K̂/V̂ᵀ in L2;
// within a head the heaviest tiles come first.
INTFA_HD int items_per_head(const KernelParams& p) {
  return p.causal ? (p.num_q_blocks + 1) / 2 : p.num_q_blocks;
}
INTFA_HD int64_t work_items(const KernelParams& p) {
  return static_cast<int64_t>(p.batch) * p.heads * items_per_head(p);
}
// Query block of tile `which` (0 or 1) of item k of a head, or −1 when the
// item has no such tile.
INTFA_HD int item_query_block(const KernelParams& p, int k, int which) {
  const int heavy = p.num_q_blocks - 1 - k;
  if (which == 0) return heavy;
  return p.causal && k < heavy ? k : -1;
}

}  // namespace intfa::cuda::sm90
