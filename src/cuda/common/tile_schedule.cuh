// Which query tiles a CTA computes, and which keys a query row sees.
//
// Two schedules:
//   one tile per CTA (mma.sync kernel): CTA blockIdx.x computes one tile, the
//     hardware hands out CTAs as SMs free up;
//   persistent (wgmma kernel): one CTA per SM walks a list of work units,
//     blockIdx.x, blockIdx.x + gridDim.x, ..., so one tile's epilogue and the
//     next tile's first loads overlap the other warpgroups' products instead
//     of leaving the SM to a CTA launch and a pipeline fill. With a causal
//     mask a unit is two tiles of one head, query blocks n−1−j and j: tile
//     work grows linearly with the query block, so every unit costs about
//     the same and the static round-robin stays balanced (without pairing,
//     when gridDim.x is a multiple of the blocks per head a CTA would get the
//     same query block of every head it visits).
// Both walk the query blocks of a head consecutively, the last (heaviest
// under a causal mask) first, so the CTAs resident together share K̂/V̂ᵀ in L2.
#pragma once

#include <cstdint>

#include "sm80/kernel_params.hpp"

namespace intfa::cuda {

struct TileCoords {
  int b, h, hk, m0;  // batch, head, KV head, first query row
};

// Tile of head `bh` (= b·H + h) and query block `qb`.
__device__ __forceinline__ TileCoords tile_coords(const KernelParams& p, int64_t bh, int qb,
                                                  int block_m) {
  TileCoords c;
  c.h = static_cast<int>(bh % p.heads);
  c.b = static_cast<int>(bh / p.heads);
  c.hk = c.h / p.head_ratio;
  c.m0 = qb * block_m;
  return c;
}

// One tile per CTA.
__device__ __forceinline__ TileCoords tile_of_block(const KernelParams& p, int block_m) {
  const int64_t linear = blockIdx.x;
  const int qb = p.num_q_blocks - 1 - static_cast<int>(linear % p.num_q_blocks);
  return tile_coords(p, linear / p.num_q_blocks, qb, block_m);
}

// Persistent schedule: the position of a CTA in its list of tiles.
struct TileCursor {
  int64_t unit;  // work unit: head · units_per_head + j
  int second;    // 1: the second tile of a paired unit
};

__device__ __forceinline__ TileCursor first_tile() { return TileCursor{blockIdx.x, 0}; }
__device__ __forceinline__ bool tile_valid(const KernelParams& p, const TileCursor& c) {
  return c.unit < p.num_units;
}
__device__ __forceinline__ TileCoords tile_at(const KernelParams& p, const TileCursor& c, int block_m) {
  const int j = static_cast<int>(c.unit % p.units_per_head);
  return tile_coords(p, c.unit / p.units_per_head, c.second ? j : p.num_q_blocks - 1 - j, block_m);
}
__device__ __forceinline__ TileCursor next_tile(const KernelParams& p, const TileCursor& c) {
  const int j = static_cast<int>(c.unit % p.units_per_head);
  if (p.tiles_per_unit == 2 && c.second == 0 && j != p.num_q_blocks - 1 - j) return {c.unit, 1};
  return TileCursor{c.unit + gridDim.x, 0};
}

// Keys visible to query row `row` (exclusive bound), bottom-right aligned.
__device__ __forceinline__ int visible_keys(const KernelParams& p, int row) {
  if (!p.causal) return p.seqlen_k;
  const int64_t v = static_cast<int64_t>(row) + p.seqlen_k - p.seqlen_q + 1;
  return v < 0 ? 0 : (v > p.seqlen_k ? p.seqlen_k : static_cast<int>(v));
}

}  // namespace intfa::cuda
