// INT8 FlashAttention forward on mma.sync (sm_80 and later): one kernel
// template, instantiated per (head dim, P format, key block) in the generated
// files listed by src/cuda/CMakeLists.txt.
//
// One CTA = 8 warps = 128 query rows of one (batch, head); each warp owns 16
// rows and keeps their Q̂ fragments and O accumulator in registers. The keys
// are walked in blocks of kBlockN (= AttentionParams::kv_block): K̂, V̂ᵀ (or V)
// and the key scales of a block are copied global -> shared with cp.async,
// three stages deep (two blocks in flight), one __syncthreads per block.
//
// Per block and warp:
//   S   = Q̂·K̂ᵀ       int32, m16n8k32 s8·s8 (exact)
//   t   = S · k_scale  (fp32, exact conversion of S, see ptx.cuh)
//   m_b = max_j t · row_factor (row max in log2 units; row_factor > 0)
//   P   = 2^(t·row_factor − m_ref) quantized (m_ref = m_b for p-u8, the running
//         max for p-int8 and 16-bit P), packed into A fragments in registers
//   O  += P·V          int32 m16n8k32 (8-bit) or fp32 m16n8k16 (16-bit)
// with the online-softmax bookkeeping of src/cpu/softmax_row.hpp
// (softmax_block). The O rescale by alpha is skipped when no row of the warp
// changed its running max (alpha == 1 exactly: same result).
// Pipelined instantiations (LoopSchedule::pipelined) issue the Q̂·K̂ᵀ of block
// b+1 before the softmax of block b, so the scheduler interleaves those IMMAs
// with the exp/quantize arithmetic (FlashAttention-3's intra-warp overlap);
// block b+1 must then have landed one block earlier (cp.async.wait_group 0).
// Integer accumulations start from the magic bias 0x4B400000 held in a
// register quad (mma's C operand), so S converts to float in one FADD, and
// P·V goes into the output accumulator with its bias, which is removed every
// kBiasFlushBlocks blocks (pv_phase).
// Full key blocks copy without bounds checks; the last ragged block zero-fills.
//
// Semantics versus the CPU back-end (docs/PERF.md, tests/cuda): identical
// algorithm and block boundaries; the float operations differ in places:
// exp2 is ex2.approx (rel. error ~2^-22), t·row_factor − m is one FFMA
// (the CPU rounds the product and the difference separately, and forms
// row_factor·k_scale first), rint(255 p) is one FFMA with 2^23, l and the
// O sums are accumulated in another order, and v_scale is applied at the end.
// Each can move a P̂ code by one unit when P sits next to a rounding boundary.
// With P̂ from the block max (p-u8), O and l are kept relative to a reference
// that lags the running max by up to 2^8 (common/online_softmax.cuh, lazy
// rescaling): the same P̂ codes and integer products, O and LSE equal up to
// fp32 rounding (for uint8 P, O's rounding at the magnitude of the carried
// bias, pv_phase).
#pragma once

#include <cfloat>
#include <cstdint>
#include <type_traits>

#include "common/online_softmax.cuh"
#include "common/ptx.cuh"
#include "core/numeric.hpp"
#include "sm80/kernel_params.hpp"
#include "sm80/kernel_traits.hpp"

namespace intfa::cuda {

#ifdef INTFA_SM80_TRACE
// Diagnostics (never in a normal build; bench/sm90_trace.sh with
// TRACE_KERNEL=sm80): every warp records global-timer stamps (ns) of its
// entry, Q̂ landed, first key block landed, loop done, end, and rows finished
// (just before the output stores), which the launcher prints after the
// kernel. Stored, not printed from the kernel, so the CTAs keep their timing.
// Only the first kSm80TraceWarps warps of a launch are recorded (at D = 128,
// S = 16k: the first half of the CTAs).
struct Sm80TraceRecord {
  unsigned long long t[6];
  uint32_t sm, blocks;
};
constexpr int kSm80TraceWarps = 1 << 16;
static __device__ Sm80TraceRecord g_sm80_trace[kSm80TraceWarps];
#endif

template <class T>
__global__ void __launch_bounds__(T::kThreads, T::kMinBlocksPerSm)
    attention_kernel(const KernelParams p) {
  constexpr int kHeadDim = T::kHeadDim, kBlockM = T::kBlockM, kBlockN = T::kBlockN;
  constexpr int kThreads = T::kThreads;
  constexpr PMode kMode = T::kMode;
  constexpr bool kIntP = T::kIntP;
  constexpr bool kBiasedO = kMode == PMode::uint8_block;  // see pv_phase
  static_assert((kBlockM * T::kKRowChunks) % kThreads == 0 &&
                    (kBlockN * T::kKRowChunks) % kThreads == 0 &&
                    (T::kVRows * T::kVRowChunks) % kThreads == 0 && kBlockN <= kThreads,
                "copy loops divide evenly among the threads");

  extern __shared__ __align__(128) uint8_t smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
#ifdef INTFA_SM80_TRACE
  unsigned long long trace[6] = {globaltimer_ns(), 0, 0, 0, 0, 0};
#endif

  const TileCoords tile = tile_of_block(p, kBlockM);
  const int b = tile.b, h = tile.h, hk = tile.hk, m0 = tile.m0;
  auto visible = [&](int row) { return visible_keys(p, row); };
  const int last_row = min(m0 + kBlockM, p.seqlen_q) - 1;
  const int n_blocks = (visible(last_row) + kBlockN - 1) / kBlockN;

  const int warp_row0 = m0 + 16 * warp;
  const bool warp_active = warp_row0 < p.seqlen_q;
  // Keys some row of the warp sees / every row of the warp sees.
  const int warp_n_end = warp_active ? visible(min(warp_row0 + 15, p.seqlen_q - 1)) : 0;
  const int warp_n_full = warp_active ? visible(warp_row0) : 0;
  const int row_of[2] = {warp_row0 + g, warp_row0 + g + 8};
  const int visible_of[2] = {visible(row_of[0]), visible(row_of[1])};

  const int8_t* q_base = p.q + b * p.q_batch_stride + h * p.q_head_stride;
  const int8_t* k_base = p.k + b * p.k_batch_stride + hk * p.k_head_stride;
  const uint8_t* v_base = static_cast<const uint8_t*>(p.v) +
                          (b * p.v_batch_stride + hk * p.v_head_stride) * (kIntP ? 1 : 2);
  const float* ks_base = p.k_scale + (static_cast<int64_t>(b) * p.kv_heads + hk) * p.seqlen_k;

  const uint32_t smem0 = smem_u32(smem);
  auto stage_addr = [&](int s) { return smem0 + static_cast<uint32_t>(s * T::kStageBytes); };

  // ---- global -> shared copies ------------------------------------------------
  auto load_q = [&]() {
    const uint32_t dst = stage_addr(T::kStages - 1);
#pragma unroll
    for (int it = 0; it < kBlockM * T::kKRowChunks / kThreads; ++it) {
      const int i = tid + it * kThreads;
      const int r = i / T::kKRowChunks, c = i % T::kKRowChunks;
      const bool ok = m0 + r < p.seqlen_q;
      const int8_t* src = ok ? q_base + (m0 + r) * p.q_row_stride + c * 16 : p.q;
      cp_async_16(dst + T::q_offset(r, c), src, ok ? 16 : 0);
    }
  };
  // Each thread's copies of a block are rows r0, r0 + step, ... of one 16-byte
  // column; the step is a multiple of 16 rows, so the swizzle of every copy is
  // that of the first and the destinations are the first plus constants. Only
  // the row offset n0 changes from block to block.
  constexpr int kKStep = kThreads / T::kKRowChunks;   // K̂ rows between copies
  constexpr int kVStep = kThreads / T::kVRowChunks;   // V rows between copies
  static_assert(kKStep % (kIntP ? 16 : 8) == 0 && kVStep % 8 == 0, "copy steps keep the swizzle");
  const int k_r0 = tid / T::kKRowChunks, v_r0 = tid / T::kVRowChunks;
  const int8_t* k_src0 = k_base + k_r0 * p.k_row_stride + (tid % T::kKRowChunks) * 16;
  const uint32_t k_dst0 = T::k_offset(k_r0, tid % T::kKRowChunks);
  const uint32_t v_dst0 = T::v_offset(v_r0, tid % T::kVRowChunks);
  const int64_t v_row_bytes = p.v_row_stride * (kIntP ? 1 : 2);
  const uint8_t* v_src0 = kIntP ? v_base + v_r0 * v_row_bytes + (tid % T::kVRowChunks) * 16
                                : v_base + v_r0 * v_row_bytes + (tid % T::kVRowChunks) * 16;
  const int64_t k_step_bytes = kKStep * p.k_row_stride;
  const int64_t v_step_bytes = kVStep * v_row_bytes;
  auto load_kv = [&](int blk, int s) {
    const int n0 = blk * kBlockN;
    const uint32_t dst = stage_addr(s);
    const int8_t* k_blk = k_src0 + static_cast<int64_t>(n0) * p.k_row_stride;
    const uint8_t* v_blk = kIntP ? v_src0 + n0 : v_src0 + static_cast<int64_t>(n0) * v_row_bytes;
    if (n0 + kBlockN <= p.seqlen_k) {  // CTA-uniform: every key of the block exists
#pragma unroll
      for (int it = 0; it < kBlockN / kKStep; ++it)
        cp_async_16(dst + k_dst0 + it * kKStep * kHeadDim, k_blk + it * k_step_bytes, 16);
#pragma unroll
      for (int it = 0; it < T::kVRows / kVStep; ++it)
        cp_async_16(dst + v_dst0 + it * kVStep * T::kVRowBytes, v_blk + it * v_step_bytes, 16);
      if (tid < kBlockN) cp_async_4(dst + T::kScaleOffset + 4 * tid, ks_base + n0 + tid, 4);
      return;
    }
    // Ragged last block: rows past Sk are zero-filled and read nothing.
#pragma unroll
    for (int it = 0; it < kBlockN / kKStep; ++it) {
      const bool ok = n0 + k_r0 + it * kKStep < p.seqlen_k;
      cp_async_16(dst + k_dst0 + it * kKStep * kHeadDim, ok ? k_blk + it * k_step_bytes : p.k,
                  ok ? 16 : 0);
    }
#pragma unroll
    for (int it = 0; it < T::kVRows / kVStep; ++it) {
      // V̂ᵀ: channel rows, always inside the zero padding to kVTokenAlign.
      const bool ok = kIntP || n0 + v_r0 + it * kVStep < p.seqlen_k;
      cp_async_16(dst + v_dst0 + it * kVStep * T::kVRowBytes,
                  ok ? v_blk + it * v_step_bytes : static_cast<const uint8_t*>(p.v), ok ? 16 : 0);
    }
    if (tid < kBlockN) {
      const bool ok = n0 + tid < p.seqlen_k;
      cp_async_4(dst + T::kScaleOffset + 4 * tid, ok ? ks_base + n0 + tid : p.k_scale, ok ? 4 : 0);
    }
  };

  prefetch_column_scales<kHeadDim>(p, b, hk, lane);
  // ---- per-row state ---------------------------------------------------------------
  float row_factor[2], m_run[2], l_run[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_factor[r] = row_factor_of(p, b, h, row_of[r]);
    m_run[r] = kNegInf;
    l_run[r] = 0.f;  // partial over this thread's keys; summed over the quad at the end
  }
  // uint8 P: Σ of the weights of the biased P·V products in acc since the
  // last remove_bias (see pv_phase).
  float w_run[2] = {0.f, 0.f};
  // The int -> float bias every integer accumulation starts from (ptx.cuh).
  const int32_t magic[4] = {kMagicBits, kMagicBits, kMagicBits, kMagicBits};
  float acc[T::kDTiles][4];
#pragma unroll
  for (int j = 0; j < T::kDTiles; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) acc[j][e] = 0.f;

  // This lane's ldmatrix offsets of tile 0, step 0 (kernel_traits.hpp: the
  // others are an XOR and an immediate away).
  const uint32_t k_lane = T::k_ldsm(lane, 0, 0), v_lane = T::v_ldsm(lane, 0, 0);

  // S = Q̂·K̂ᵀ of the K̂ tile at st_k, starting from the magic bias (see
  // int_to_float_biased): no per-element add. n8-tile pairs outer: each pair's
  // S is final after its k steps, so its conversion and max overlap the IMMAs
  // of the next pairs.
  auto qk = [&](uint32_t st_k, int32_t (&s)[T::kNTiles][4], const uint32_t (&qf)[T::kDChunks][4]) {
#pragma unroll
    for (int jp = 0; jp < T::kNTiles / 2; ++jp) {
#pragma unroll
      for (int c = 0; c < T::kDChunks; ++c) {
        uint32_t kb[4];
        ldmatrix_x4(kb, st_k + (k_lane ^ T::k_ldsm_xor(c)) + T::k_ldsm_add(jp));
        if (c == 0) {
          mma_s8s8_from(s[2 * jp], qf[c], kb[0], kb[1], magic);
          mma_s8s8_from(s[2 * jp + 1], qf[c], kb[2], kb[3], magic);
        } else {
          mma_s8s8(s[2 * jp], qf[c], kb[0], kb[1]);
          mma_s8s8(s[2 * jp + 1], qf[c], kb[2], kb[3]);
        }
      }
    }
  };

  // ---- the phases of one key block ----------------------------------------------------
  constexpr int kPRegs = T::kPvSteps;
  using SAcc = int32_t[T::kNTiles][4];  // S of one block, accumulator layout
  using PFrag = uint32_t[kPRegs][4];    // P of one block as P·V A fragments

  // Softmax: t = S · k_scale (masked keys −inf), block row max, online update,
  // P packed into A fragments; O and l rescaled by alpha. mask_tag: ragged or
  // causal-diagonal block (the masking is compiled out of the other copy, so
  // no branch splits the body and the scheduler interleaves it freely).
  auto softmax_phase = [&](auto mask_tag, uint32_t st, int n0, const SAcc& s, PFrag& pa,
                           float (&weight)[2]) {
    // Key of element (j, e) = s_key(j, e, 0) + key_base (the lane part separates).
    const int key_base = T::s_key(0, 0, t);
    float x[T::kNTiles][4];
    const float* ks_smem =
        reinterpret_cast<const float*>(smem + (st - smem0) + T::kScaleOffset) + key_base;
#pragma unroll
    for (int j = 0; j < T::kNTiles; ++j) {
      const float2 ks = *reinterpret_cast<const float2*>(ks_smem + T::s_key(j, 0, 0));
#pragma unroll
      for (int e = 0; e < 4; ++e)
        x[j][e] = int_to_float_biased(s[j][e]) * ((e & 1) ? ks.y : ks.x);
    }
    if constexpr (decltype(mask_tag)::value) {
      const int limit[2] = {visible_of[0] - n0 - key_base, visible_of[1] - n0 - key_base};
#pragma unroll
      for (int j = 0; j < T::kNTiles; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          if (T::s_key(j, e, 0) >= limit[e >> 1]) x[j][e] = kNegInf;
    }
    float alpha[2], p_offset[2];
    block_max_update<kMode>(x, row_factor, m_run, alpha, p_offset, weight);

    float l_blk[2] = {0.f, 0.f};
    if constexpr (kIntP) {
      quantize_pack_p<kMode>(x, row_factor, p_offset, weight, pa, l_blk);
    } else {
      float pr[T::kNTiles][4];
#pragma unroll
      for (int j = 0; j < T::kNTiles; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          pr[j][e] = ex2_approx(fmaf(x[j][e], row_factor[e >> 1], -p_offset[e >> 1]));
          l_blk[e >> 1] += pr[j][e];
        }
#pragma unroll
      for (int cc = 0; cc < kPRegs; ++cc)
#pragma unroll
        for (int a = 0; a < 4; ++a) {
          const float lo = pr[T::p_tile(cc, a, 0)][T::p_elem(a, 0)];
          const float hi = pr[T::p_tile(cc, a, 1)][T::p_elem(a, 1)];
          pa[cc][a] = kMode == PMode::f16 ? pack_half2(lo, hi) : pack_bf162(lo, hi);
        }
    }
    rescale_rows(l_run, l_blk, alpha, acc);
    if constexpr (kBiasedO) {
#pragma unroll
      for (int r = 0; r < 2; ++r) w_run[r] = fmaf(w_run[r], alpha[r], weight[r]);
    }
  };

  // O += P·V of the V tile at st. 8-bit: an int32 product per pair of O tiles,
  // accumulated from the magic bias like S, whose bits as a float are the
  // product plus kMagicFloat exactly. With uint8 P (kBiasedO) it goes into acc
  // with the block's weight as it is, bias included (one FFMA per element
  // instead of FADD + FFMA: +2.5 to +4% at D = 128 and 256, docs/PERF.md), and
  // remove_bias takes kMagicFloat · Σ weights out again every
  // kBiasFlushBlocks blocks and at the end. Between removals acc carries up to
  // 2^24 · w_run, and each FFMA rounds at that magnitude: the output moves by
  // at most 2.75 · kBiasFlushBlocks · v_scale / 255, because l >= 255 · Σ weights
  // (every block's largest code is 255; derived in
  // tests/cuda/test_attention_cuda.cpp). With int8 P from the running max no
  // such bound holds (a block's codes may all be 0), so its products lose
  // the bias first. 16-bit: straight into the fp32 accumulator.
  auto remove_bias = [&]() {
#pragma unroll
    for (int j = 0; j < T::kDTiles; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] = fmaf(-kMagicFloat, w_run[e >> 1], acc[j][e]);
    w_run[0] = w_run[1] = 0.f;
  };
  auto pv_phase = [&](uint32_t st, const PFrag& pa, const float (&weight)[2]) {
#pragma unroll
    for (int jdp = 0; jdp < T::kDTiles / 2; ++jdp) {
      if constexpr (kIntP) {
        int32_t o[2][4];
#pragma unroll
        for (int cc = 0; cc < kPRegs; ++cc) {
          uint32_t vb[4];
          ldmatrix_x4(vb, st + (v_lane ^ T::v_ldsm_xor(jdp, cc)) + T::v_ldsm_add(jdp, cc));
          // u8·s8 (p-u8) or s8·s8 (p-int8); the first k step from the bias.
          auto mma_p = [&](int32_t (&d)[4], uint32_t b0, uint32_t b1) {
            if constexpr (kMode == PMode::uint8_block) {
              if (cc == 0) mma_u8s8_from(d, pa[cc], b0, b1, magic); else mma_u8s8(d, pa[cc], b0, b1);
            } else {
              if (cc == 0) mma_s8s8_from(d, pa[cc], b0, b1, magic); else mma_s8s8(d, pa[cc], b0, b1);
            }
          };
          mma_p(o[0], vb[0], vb[1]);
          mma_p(o[1], vb[2], vb[3]);
        }
#pragma unroll
        for (int x2 = 0; x2 < 2; ++x2)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            acc[2 * jdp + x2][e] = fmaf(kBiasedO ? __int_as_float(o[x2][e]) : int_to_float_biased(o[x2][e]),
                                        weight[e >> 1], acc[2 * jdp + x2][e]);
      } else {
#pragma unroll
        for (int cc = 0; cc < kPRegs; ++cc) {
          uint32_t vb[4];
          ldmatrix_x4_trans(vb, st + (v_lane ^ T::v_ldsm_xor(jdp, cc)) + T::v_ldsm_add(jdp, cc));
          if constexpr (kMode == PMode::f16) {
            mma_f16(acc[2 * jdp], pa[cc], vb[0], vb[1]);
            mma_f16(acc[2 * jdp + 1], pa[cc], vb[2], vb[3]);
          } else {
            mma_bf16(acc[2 * jdp], pa[cc], vb[0], vb[1]);
            mma_bf16(acc[2 * jdp + 1], pa[cc], vb[2], vb[3]);
          }
        }
      }
    }
  };

  // Blocks in flight ahead of the one computed (one cp.async group each).
  constexpr int kAhead = T::kStages - 1;
  if (n_blocks > 0) {
    load_q();
    cp_async_commit();
#pragma unroll
    for (int i = 0; i < kAhead; ++i) {
      if (i < n_blocks) load_kv(i, i);
      cp_async_commit();
    }
    // Q̂ landed (this thread's part); pipelined: block 0 too.
    if constexpr (T::kPipelined) cp_async_wait<kAhead - 1>(); else cp_async_wait<kAhead>();
    __syncthreads();
#ifdef INTFA_SM80_TRACE
    trace[1] = globaltimer_ns();
#endif
    uint32_t qf[T::kDChunks][4];
#pragma unroll
    for (int c = 0; c < T::kDChunks; ++c)
      ldmatrix_x4(qf[c], stage_addr(T::kStages - 1) + T::q_ldsm(lane, warp, c));
    int32_t s_next[T::kNTiles][4];  // pipelined: S of the next block
    if constexpr (T::kPipelined) qk(stage_addr(0), s_next, qf);

    int stage = 0;
    for (int blk = 0; blk < n_blocks; ++blk) {
      // Block blk landed (this thread's part); pipelined: block blk+1 too.
      if constexpr (T::kPipelined) cp_async_wait<kAhead - 2>(); else cp_async_wait<kAhead - 1>();
      // Everyone's part landed, and everyone finished block blk-1 (and the Q̂
      // fragments), so the stage that block blk+kAhead goes to (blk-1's) is free.
      __syncthreads();
#ifdef INTFA_SM80_TRACE
      if (blk == 0) trace[2] = globaltimer_ns();
#endif
      if (blk + kAhead < n_blocks) load_kv(blk + kAhead, stage == 0 ? T::kStages - 1 : stage - 1);
      cp_async_commit();
      const int n0 = blk * kBlockN;
      const uint32_t st = stage_addr(stage);
      stage = stage == T::kStages - 1 ? 0 : stage + 1;
      const uint32_t st_next = stage_addr(stage);
      if (n0 >= warp_n_end) continue;  // warp-uniform: every row of the warp is masked
      // The whole block body in each of the two copies (masked, unmasked):
      // with the branch only around the softmax, ptxas also emitted
      // divergent-path copies of its shuffles and votes and used more
      // registers (docs/PERF.md).
      auto block = [&](auto mask_tag) {
        // ---- S = Q̂·K̂ᵀ (pipelined: this block's S was issued during the last block) ----
        int32_t s[T::kNTiles][4];
        if constexpr (T::kPipelined) {
#pragma unroll
          for (int j = 0; j < T::kNTiles; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[j][e] = s_next[j][e];
          // The next block's IMMAs go out first; the scheduler interleaves them
          // with this block's softmax (no branch between them). Past the last
          // block they recompute this stage (valid data, result unused).
          qk(blk + 1 < n_blocks ? st_next : st, s_next, qf);
        } else {
          qk(st, s, qf);
        }
        uint32_t pa[kPRegs][4];
        float weight[2];
        softmax_phase(mask_tag, st, n0, s, pa, weight);
        pv_phase(st, pa, weight);
      };
      if (n0 + kBlockN > warp_n_full) {  // warp-uniform
        block(std::true_type{});
      } else {
        block(std::false_type{});
      }
      if constexpr (kBiasedO && T::kBiasFlushBlocks > 0)
        if ((blk + 1) % T::kBiasFlushBlocks == 0) remove_bias();
    }
    cp_async_wait<0>();
  }
#ifdef INTFA_SM80_TRACE
  trace[3] = globaltimer_ns();
#endif

  // ---- epilogue: O = acc · v_scale / l, LSE ---------------------------------------------
  float column_scales[2 * T::kDTiles];  // see load_column_scales
  load_column_scales<kHeadDim>(p, b, hk, 0, t, column_scales);
  float inv_l[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) inv_l[r] = finish_row(p, b, h, row_of[r], l_run[r], m_run[r], t);
#ifdef INTFA_SM80_TRACE
  {  // stamp once the rows' sums and every v_scale are in registers
    float ready = inv_l[0] + inv_l[1];
#pragma unroll
    for (int k = 0; k < 2 * T::kDTiles; ++k) ready += column_scales[k];
    trace[5] = globaltimer_ns() + (ready != ready ? 1 : 0);
  }
#endif
  if constexpr (kBiasedO) remove_bias();
  // Pair j = n8 tile j of the output: columns 8j + 2t, +1.
  store_output_rows<T::kDTiles, T::kOutputStoreBytes>(
      p, b, h, row_of, t, [&](int j) { return 8 * j + 2 * t; },
      [&](int r, int j) {
        return make_float2(acc[j][2 * r] * column_scales[2 * j] * inv_l[r],
                           acc[j][2 * r + 1] * column_scales[2 * j + 1] * inv_l[r]);
      });
#ifdef INTFA_SM80_TRACE
  trace[4] = globaltimer_ns();
  const int record = blockIdx.x * T::kWarps + warp;
  if (lane == 0 && record < kSm80TraceWarps) {
    Sm80TraceRecord& rec = g_sm80_trace[record];
    for (int i = 0; i < 6; ++i) rec.t[i] = trace[i];
    rec.sm = smid();
    rec.blocks = n_blocks;
  }
#endif
}

}  // namespace intfa::cuda
