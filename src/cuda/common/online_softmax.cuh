// The per-row steps of the online softmax shared by the mma.sync (sm80) and
// wgmma (sm90) attention kernels, so both follow src/cpu/softmax_row.hpp with
// the same float operations: the block update (running max, rescale factor,
// P offset and weight per P format), the end-of-row normalization with the
// log-sum-exp, and the store of an output element pair.
#pragma once

#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "common/ptx.cuh"
#include "core/numeric.hpp"
#include "sm80/kernel_params.hpp"
#include "sm80/kernel_traits.hpp"  // PMode

namespace intfa::cuda {

inline constexpr float kLn2 = 0.693147180559945309f;  // as src/cpu/softmax_row.hpp
inline constexpr float kNegInf = -__builtin_huge_valf();

// The (batch, head, query block) of this CTA: query blocks vary fastest so
// the CTAs resident together share K/V in L2, and the heaviest (causal: last)
// query blocks start first.
struct TileCoords {
  int b, h, hk, m0;
};
__device__ __forceinline__ TileCoords tile_of_block(const KernelParams& p, int block_m) {
  int64_t linear = blockIdx.x;
  const int qb = p.num_q_blocks - 1 - static_cast<int>(linear % p.num_q_blocks);
  linear /= p.num_q_blocks;
  TileCoords c;
  c.h = static_cast<int>(linear % p.heads);
  c.b = static_cast<int>(linear / p.heads);
  c.hk = c.h / p.head_ratio;
  c.m0 = qb * block_m;
  return c;
}

// Keys visible to query row `row` (exclusive bound), bottom-right aligned.
__device__ __forceinline__ int visible_keys(const KernelParams& p, int row) {
  if (!p.causal) return p.seqlen_k;
  const int64_t v = static_cast<int64_t>(row) + p.seqlen_k - p.seqlen_q + 1;
  return v < 0 ? 0 : (v > p.seqlen_k ? p.seqlen_k : static_cast<int>(v));
}

// What one key block changes for one query row.
struct RowBlockUpdate {
  float alpha;     // factor on the output and l accumulated so far
  float p_offset;  // P = 2^(t·row_factor − p_offset) before quantization
  float weight;    // factor of this block's integer P·V (and of its l)
};

// Lazy rescaling for 8-bit P from the block's own row max (uint8_block). Its
// codes depend only on the block max, so the running reference m_run only sets
// the units of O and l, and it may lag the true running max: it moves only
// when a block's max exceeds it by more than kRescaleSlackLog2, so a block's
// weight 2^(m_blk − m_run)/255 stays below 2^kRescaleSlackLog2/255 ≈ 1. O =
// acc/l and the LSE (m_run + log2 l) are the same in exact arithmetic; in
// fp32 they differ from the CPU's (which always uses the true max) by
// rounding only. Without the slack a warp rescales its whole output
// accumulator (D/2 FMULs per thread at D = 128) whenever one of its 16 rows
// finds a new max, which for iid scores is most blocks of a short row
// (~1 − (1 − 1/n)^16 at block n: 81% of 32 blocks, 38% of 128). With it,
// almost only the first block does. The other P formats quantize P relative
// to m_run itself and keep the exact max. INTFA_RESCALE_SLACK_LOG2=0 restores
// the eager rescale (timing experiments).
#ifndef INTFA_RESCALE_SLACK_LOG2
#define INTFA_RESCALE_SLACK_LOG2 8
#endif
inline constexpr float kRescaleSlackLog2 = INTFA_RESCALE_SLACK_LOG2;

// m_blk: the block's row max of t·row_factor (−inf when every key is masked);
// m_run: the running max (uint8_block: the lagging reference above), updated
// in place.
template <PMode kMode>
__device__ __forceinline__ RowBlockUpdate online_softmax_update(float m_blk, float& m_run) {
  RowBlockUpdate u;
  // −inf + slack stays −inf: the first block with a visible key always moves it.
  const float m_new = kMode == PMode::uint8_block
                          ? (m_blk > m_run + kRescaleSlackLog2 ? m_blk : m_run)
                          : fmaxf(m_run, m_blk);
  const float m_new_safe = m_new == kNegInf ? 0.f : m_new;
  u.alpha = m_run == m_new ? 1.f : ex2_approx(m_run - m_new_safe);
  if constexpr (kMode == PMode::uint8_block) {
    u.p_offset = m_blk == kNegInf ? 0.f : m_blk;
    u.weight = ex2_approx(m_blk - m_new_safe) * numeric::kInv255;  // 0 if masked, < 2^slack/255
  } else {
    u.p_offset = m_new_safe;
    u.weight = kMode == PMode::int8_running ? numeric::kInv127 : 1.f;
  }
  m_run = m_new;
  return u;
}

// This thread's max of row r (0 or 1) over the n8 tiles [kBegin, kEnd) of x
// (accumulator layout, masked keys −inf). A tree (max is exact, so the order
// is free): a chain of 2·kTiles dependent FMNMX would expose its latency.
template <int kBegin, int kEnd, int kTiles>
__device__ __forceinline__ float thread_row_max(const float (&x)[kTiles][4], int r) {
  constexpr int kN = 2 * (kEnd - kBegin);
  float v[kN];
#pragma unroll
  for (int j = kBegin; j < kEnd; ++j)
    v[2 * (j - kBegin)] = x[j][2 * r], v[2 * (j - kBegin) + 1] = x[j][2 * r + 1];
#pragma unroll
  for (int step = 1; step < kN; step *= 2)
#pragma unroll
    for (int i = 0; i + step < kN; i += 2 * step) v[i] = fmaxf(v[i], v[i + step]);
  return v[0];
}

// From this thread's max of row r over a key block (thread_row_max): the
// block's row max, reduced over the quad that shares the row and scaled to
// log2 units, and the online-softmax update of the row.
template <PMode kMode>
__device__ __forceinline__ void finish_block_max(float m_thread, int r, const float (&row_factor)[2],
                                                 float (&m_run)[2], float (&alpha)[2],
                                                 float (&p_offset)[2], float (&weight)[2]) {
  float m_blk = m_thread;
  m_blk = fmaxf(m_blk, __shfl_xor_sync(0xffffffffu, m_blk, 1));
  m_blk = fmaxf(m_blk, __shfl_xor_sync(0xffffffffu, m_blk, 2));
  m_blk *= row_factor[r];  // max commutes with the positive scaling
  const RowBlockUpdate u = online_softmax_update<kMode>(m_blk, m_run[r]);
  alpha[r] = u.alpha, p_offset[r] = u.p_offset, weight[r] = u.weight;
}

// Both steps for a whole block and both rows of this thread.
template <PMode kMode, int kTiles>
__device__ __forceinline__ void block_max_update(const float (&x)[kTiles][4],
                                                 const float (&row_factor)[2], float (&m_run)[2],
                                                 float (&alpha)[2], float (&p_offset)[2],
                                                 float (&weight)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r)
    finish_block_max<kMode>(thread_row_max<0, kTiles>(x, r), r, row_factor, m_run, alpha, p_offset,
                            weight);
}

// The row sums of a block's 8-bit P as quantize_pack_p_range accumulates
// them: of the unquantized P for p-int8, of the codes for p-u8.
struct PRowSums {
  float p[2] = {0.f, 0.f};
  uint32_t codes[2] = {0u, 0u};
};

// 8-bit P of the n8 tiles [kBegin, kEnd) of a key block (multiples of 4: whole
// k32 steps of P·V) for this thread's two rows: the codes of
// 2^(x·row_factor − p_offset) (x in the accumulator layout: kTiles n8 tiles,
// element e of row e >> 1), packed as the A registers of the 8-bit P·V
// product (m16n8k32 and wgmma share the layout: register a of k step c holds
// tiles 4c + 2(a >> 1) and +1, elements 2(a & 1) and +1, low byte first)
// into pa[kBegin / 4, kEnd / 4), and their row sums added to `sums`.
// kNoExp: timing experiment only (wrong results), the exponential left out.
template <PMode kMode, bool kNoExp, int kBegin, int kEnd, int kTiles>
__device__ __forceinline__ void quantize_pack_p_range(const float (&x)[kTiles][4],
                                                      const float (&row_factor)[2],
                                                      const float (&p_offset)[2],
                                                      uint32_t (&pa)[kTiles / 4][4], PRowSums& sums) {
  static_assert(kMode == PMode::uint8_block || kMode == PMode::int8_running, "8-bit P");
  static_assert(kBegin % 4 == 0 && kEnd % 4 == 0 && 0 <= kBegin && kBegin < kEnd && kEnd <= kTiles,
                "whole k32 steps");
  constexpr uint32_t kQ = kMode == PMode::uint8_block ? 255u : 127u;
  static_assert(static_cast<float>(kQ) ==
                (kMode == PMode::uint8_block ? numeric::kUint8Max : numeric::kInt8Max));
  uint32_t w[kTiles][4];
#pragma unroll
  for (int j = kBegin; j < kEnd; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float arg = fmaf(x[j][e], row_factor[e >> 1], -p_offset[e >> 1]);
      const float pr = kNoExp ? fmaxf(arg + 1.f, 0.f) : ex2_approx(arg);
      if constexpr (kMode == PMode::int8_running) sums.p[e >> 1] += pr;
      w[j][e] = round_to_int_bits(pr, kQ);  // rint(kQ·p)
    }
#pragma unroll
  for (int c = kBegin / 4; c < kEnd / 4; ++c)
#pragma unroll
    for (int a = 0; a < 4; ++a) {
      const int j0 = 4 * c + 2 * (a >> 1), e0 = 2 * (a & 1);
      pa[c][a] = pack_bytes_sat<kMode == PMode::int8_running>(w[j0][e0], w[j0][e0 + 1], w[j0 + 1][e0],
                                                             w[j0 + 1][e0 + 1]);
      if constexpr (kMode == PMode::uint8_block)
        sums.codes[a & 1] = __dp4a(pa[c][a], 0x01010101u, sums.codes[a & 1]);
    }
}

// This block's l per row from its P row sums: the codes times the block's
// weight for p-u8 (the weights applied to V then sum exactly to l), the
// unquantized sum for p-int8.
template <PMode kMode>
__device__ __forceinline__ void block_l(const PRowSums& sums, const float (&weight)[2], float (&l_blk)[2]) {
#pragma unroll
  for (int r = 0; r < 2; ++r)
    l_blk[r] = kMode == PMode::uint8_block ? static_cast<float>(sums.codes[r]) * weight[r] : sums.p[r];
}

// The whole block: codes packed into pa, and its l per row.
template <PMode kMode, bool kNoExp = false, int kTiles>
__device__ __forceinline__ void quantize_pack_p(const float (&x)[kTiles][4],
                                                const float (&row_factor)[2],
                                                const float (&p_offset)[2],
                                                const float (&weight)[2],
                                                uint32_t (&pa)[kTiles / 4][4], float (&l_blk)[2]) {
  PRowSums sums;
  quantize_pack_p_range<kMode, kNoExp, 0, kTiles>(x, row_factor, p_offset, pa, sums);
  block_l<kMode>(sums, weight, l_blk);
}

// l and the output accumulator of this thread's two rows rescaled by the
// block's alpha, l extended by the block's l. acc is in the accumulator
// layout (element i of each group of 4 belongs to row (i >> 1) & 1); the
// multiply is skipped when no row of the warp changed its max (alpha = 1).
template <int kGroups, int kPerGroup>
__device__ __forceinline__ void rescale_rows(float (&l_run)[2], const float (&l_blk)[2],
                                             const float (&alpha)[2],
                                             float (&acc)[kGroups][kPerGroup]) {
  static_assert(kPerGroup % 4 == 0, "groups of n8-tile accumulator quads");
#pragma unroll
  for (int r = 0; r < 2; ++r) l_run[r] = l_run[r] * alpha[r] + l_blk[r];
  if (__any_sync(0xffffffffu, alpha[0] != 1.f || alpha[1] != 1.f)) {
#pragma unroll
    for (int c = 0; c < kGroups; ++c)
#pragma unroll
      for (int i = 0; i < kPerGroup; ++i) acc[c][i] *= alpha[(i >> 1) & 1];
  }
}

// The row's factor from Q̂ row scale to log2 units of the softmax argument,
// kept > 0 so that t·row_factor keeps −inf for masked keys (an all-zero Q̂
// row has t = 0 for every key, so the value is irrelevant).
__device__ __forceinline__ float row_factor_of(const KernelParams& p, int b, int h, int row) {
  const float qs =
      row < p.seqlen_q ? p.q_scale[(static_cast<int64_t>(b) * p.heads + h) * p.seqlen_q + row] : 0.f;
  return fmaxf(numeric::row_score_factor(qs, p.score_scale_log2), FLT_MIN);
}

// Prefetches the head's v_scale row (kHeadDim floats) into L1 at the start
// of a tile, one 128-byte line per lane of the first kHeadDim / 32 lanes, so
// that load_column_scales at its end hits L1 instead of waiting for L2
// (measured: mma.sync +0.4 to +1.5%, wgmma neutral; docs/PERF.md).
template <int kHeadDim>
__device__ __forceinline__ void prefetch_column_scales(const KernelParams& p, int b, int hk, int lane) {
  if (p.v_scale == nullptr || lane >= kHeadDim / 32) return;
  const float* line = p.v_scale + (static_cast<int64_t>(b) * p.kv_heads + hk) * kHeadDim + 32 * lane;
  asm volatile("prefetch.global.L1 [%0];\n" ::"l"(line));
}

// The v_scale ([B, Hk, D]) of this thread's output columns col0 + 8j + 2t
// and + 1 (j < kCols / 2) into scales[2j], scales[2j + 1]; 1 when there is
// none (half-int8). Loaded all at once before the first output store: a
// load after a store cannot move above it (the output might alias v_scale),
// and with a load pair between each pair of column stores the epilogue waited
// for 16–32 memory round trips in turn: 6.9 µs per CTA of the wgmma kernel on
// the H100 (a tenth of a 4k-key tile), 3.8 µs with this (INTFA_SM90_TRACE).
template <int kHeadDim, int kCols>
__device__ __forceinline__ void load_column_scales(const KernelParams& p, int b, int hk, int col0,
                                                   int quad_lane, float (&scales)[kCols]) {
  static_assert(kCols % 2 == 0, "column pairs");
  if (p.v_scale == nullptr) {
#pragma unroll
    for (int i = 0; i < kCols; ++i) scales[i] = 1.f;
    return;
  }
  const float* vs = p.v_scale + (static_cast<int64_t>(b) * p.kv_heads + hk) * kHeadDim + col0 +
                    2 * quad_lane;
#pragma unroll
  for (int j = 0; j < kCols / 2; ++j) {
    scales[2 * j] = __ldg(vs + 8 * j);
    scales[2 * j + 1] = __ldg(vs + 8 * j + 1);
  }
}

// End of a row: l summed over the quad (each thread holds a partial over its
// keys), LSE written by thread 0 of the quad, 1/l returned (0 for a row whose
// keys are all masked: O = 0, LSE = −inf).
__device__ __forceinline__ float finish_row(const KernelParams& p, int b, int h, int row,
                                            float l_partial, float m_run, int quad_lane) {
  float l = l_partial;
  l += __shfl_xor_sync(0xffffffffu, l, 1);
  l += __shfl_xor_sync(0xffffffffu, l, 2);
  if (p.lse != nullptr && quad_lane == 0 && row < p.seqlen_q) {
    const int64_t idx = (static_cast<int64_t>(b) * p.heads + h) * p.seqlen_q + row;
    float lse = kNegInf;
    if (l > 0.f) {
      lse = (m_run + log2f(l)) * kLn2;
      if (p.lse_offset != nullptr) lse += p.softmax_scale * p.lse_offset[idx];
    }
    p.lse[idx] = lse;
  }
  return l > 0.f ? 1.f / l : 0.f;
}

// This thread's output of its two rows: pair i (< kPairs) of row r holds
// O[b, row[r], h, col(i)] and the next column, value(r, i) as a float2; rows
// at or past Sq are skipped. Lane t of a quad (the four lanes that share a
// row) holds columns 2t, 2t + 1 of each n8 tile, and the tiles of pairs i to
// i + 3 (i a multiple of 4) are adjacent. The output type is switched on
// once, not per store, and each row's address is formed once (64-bit strides).
// With one 4-byte store per pair, each warp instruction touches 8 rows in 8
// cache lines and the L1 takes a cycle per line: the stores were 2.0 of the
// wgmma kernel's 2.6 µs epilogue at 4k (INTFA_SM90_TRACE). So 16-bit outputs
// go out wider, up to kMaxStoreBytes (each kernel's traits choose it by
// measurement: kOutputStoreBytes), when the rows are aligned for it (else the
// next narrower width; checked once, CTA-uniform):
//  * 8 bytes: lanes t and t ^ 1 swap one packed pair, so even lanes hold 4
//    columns of tile i and odd lanes 4 of tile i + 1, and the quad writes 32
//    contiguous bytes per row and instruction;
//  * 16 bytes: a 4 x 4 transpose of packed pairs in the quad (two rounds of
//    swaps, with t ^ 1 and t ^ 2), so lane t holds all 8 columns of tile
//    i + t and the quad writes 64 contiguous bytes per row and instruction.
template <int kPairs, int kMaxStoreBytes, class ColumnOf, class ValueOf>
__device__ __forceinline__ void store_output_rows(const KernelParams& p, int b, int h,
                                                  const int (&row)[2], int quad_lane, ColumnOf col,
                                                  ValueOf value) {
  static_assert(kPairs % 4 == 0, "groups of four tiles");
  static_assert(kMaxStoreBytes == 4 || kMaxStoreBytes == 8 || kMaxStoreBytes == 16, "store width");
  auto row_ptr = [&](auto* base, int r) {
    return base + b * p.o_batch_stride + row[r] * p.o_row_stride + h * p.o_head_stride;
  };
  auto store_as = [&](auto type_tag) {
    constexpr OutType kType = decltype(type_tag)::value;
    using Elem = std::conditional_t<kType == OutType::f32, float, uint16_t>;
    auto pack = [](float2 v) {
      return kType == OutType::f16 ? pack_half2(v.x, v.y) : pack_bf162(v.x, v.y);
    };
    const uintptr_t row_align =
        reinterpret_cast<uintptr_t>(p.out) | (2 * (p.o_batch_stride | p.o_row_stride | p.o_head_stride));
    if constexpr (kMaxStoreBytes >= 16 && kType != OutType::f32) {
      if ((row_align & 15) == 0) {
        const int t0 = quad_lane & 1, t1 = (quad_lane >> 1) & 1;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          Elem* out = row_ptr(static_cast<Elem*>(p.out), r) + 6 * quad_lane;  // tile i + t
          const bool valid = row[r] < p.seqlen_q;
#pragma unroll
          for (int i = 0; i < kPairs; i += 4) {
            uint32_t w[4];  // this lane's pair of tiles i .. i + 3
#pragma unroll
            for (int k = 0; k < 4; ++k) w[k] = pack(value(r, i + k));
            uint32_t x[2][2];  // x[a][s]: tile i + 2a + t0, lane (t & 2) | s's pair
#pragma unroll
            for (int a = 0; a < 2; ++a) {
              const uint32_t mine = t0 ? w[2 * a + 1] : w[2 * a];
              const uint32_t got = __shfl_xor_sync(0xffffffffu, t0 ? w[2 * a] : w[2 * a + 1], 1);
              x[a][0] = t0 ? got : mine;
              x[a][1] = t0 ? mine : got;
            }
            uint32_t v[4];  // v[j]: tile i + t, lane j's pair
#pragma unroll
            for (int s = 0; s < 2; ++s) {
              const uint32_t keep = t1 ? x[1][s] : x[0][s];
              const uint32_t got = __shfl_xor_sync(0xffffffffu, t1 ? x[0][s] : x[1][s], 2);
              v[s] = t1 ? got : keep;
              v[2 + s] = t1 ? keep : got;
            }
            if (valid) *reinterpret_cast<uint4*>(out + col(i)) = make_uint4(v[0], v[1], v[2], v[3]);
          }
        }
        return;
      }
    }
    if constexpr (kMaxStoreBytes >= 8 && kType != OutType::f32) {
      if ((row_align & 7) == 0) {
        const bool odd = quad_lane & 1;
#pragma unroll
        for (int r = 0; r < 2; ++r) {
          Elem* out = row_ptr(static_cast<Elem*>(p.out), r) + (odd ? 6 : 0);
          const bool valid = row[r] < p.seqlen_q;
#pragma unroll
          for (int i = 0; i < kPairs; i += 2) {
            const uint32_t w0 = pack(value(r, i)), w1 = pack(value(r, i + 1));
            const uint32_t got = __shfl_xor_sync(0xffffffffu, odd ? w0 : w1, 1);  // every lane
            if (valid)
              *reinterpret_cast<uint2*>(out + col(i)) = odd ? make_uint2(got, w1) : make_uint2(w0, got);
          }
        }
        return;
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      if (row[r] >= p.seqlen_q) continue;
      Elem* out = row_ptr(static_cast<Elem*>(p.out), r);
#pragma unroll
      for (int i = 0; i < kPairs; ++i) {
        const float2 v = value(r, i);
        if constexpr (kType == OutType::f32) {
          *reinterpret_cast<float2*>(out + col(i)) = v;
        } else {
          *reinterpret_cast<uint32_t*>(out + col(i)) = pack(v);
        }
      }
    }
  };
  if (p.out_type == OutType::f16) {
    store_as(std::integral_constant<OutType, OutType::f16>{});
  } else if (p.out_type == OutType::bf16) {
    store_as(std::integral_constant<OutType, OutType::bf16>{});
  } else {
    store_as(std::integral_constant<OutType, OutType::f32>{});
  }
}

}  // namespace intfa::cuda
