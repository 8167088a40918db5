// INT8 FlashAttention forward on Hopper: wgmma, TMA and warp specialization.
// One kernel template, instantiated per (head dim, P format, key block,
// consumer warpgroups) in the generated
// files listed by src/cuda/CMakeLists.txt (INTFA_CUDA_SM90_CONFIGS).
//
// CTA = one producer warpgroup + two or three consumer warpgroups (sm90/kernel_traits.hpp).
//   producer: one warp. Lane 0 loads the CTA's Q̂ tile once and, per key
//     block, K̂ and V̂ᵀ tiles with TMA into a kStages-deep ring of stages
//     (mbarrier full[s], completed by the copy engine's byte count and the
//     32 lanes' arrivals); the 32 lanes stage the block's key scales.
//   consumer c (64 query rows each), per key block:
//     S   = Q̂·K̂ᵀ          wgmma m64nBNk32 s8·s8, both operands from shared memory
//     t   = S · k_scale, block row max, online-softmax update (common/online_softmax.cuh)
//     P̂   = quantized 2^(t·row_factor − offset), packed in registers as the
//           A operand: no bytes move between threads because V̂ᵀ is stored in
//           interleaved16 token order (include/intfa/params.hpp)
//     Ô   = P̂·V̂         wgmma m64nDk32 u8·s8 (intfa) or s8·s8 (paper), A from registers
//     O   = O·alpha + Ô·weight   (fp32)
//   then releases the stage (mbarrier empty[s]).
// The consumers run the same loop; while one is in its softmax another's
// wgmmas occupy the tensor cores. The first k step of each product overwrites
// its accumulator (scale-d = 0), so nothing presets it, and each int32 turns
// into a float in one I2FP, exact below 2^24; on sm_90 I2FP issues at the
// full rate and not on the special-function pipe that MUFU.EX2 needs
// (bench/cvt_peak.cu: 39.6 conversions per SM clock, and with an ex2 each
// the pair runs at the ex2 rate). That is one instruction per score element
// and one per output element and key block fewer than the magic-bias
// conversion (MOV to preset + FADD), which the mma.sync kernel keeps because
// its C operand presets the bias for free.
//
// Semantics are those of the mma.sync kernel (sm80/attention_kernel.cuh) and
// the CPU emulation with kv_block = Traits::kBlockN.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <type_traits>

#include "common/online_softmax.cuh"
#include "common/ptx.cuh"
#include "sm90/kernel_params.hpp"
#include "sm90/kernel_traits.hpp"
#include "sm90/ptx_sm90.cuh"

namespace intfa::cuda::sm90 {

// Timing experiments (docs/PERF.md), never in a normal build: compile with
// -DINTFA_SM90_ABLATION=n to leave one stage out (results are then wrong).
#ifndef INTFA_SM90_ABLATION
#define INTFA_SM90_ABLATION 0
#endif
inline constexpr int kAblation = INTFA_SM90_ABLATION;

template <class T>
__global__ void __launch_bounds__(T::kThreads, 1)
    attention_kernel(const __grid_constant__ Params prm) {
#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ == 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int kBlockM = T::kBlockM, kBlockN = T::kBlockN;
  constexpr PMode kMode = T::kMode;
  const KernelParams& p = prm.p;

  extern __shared__ uint8_t smem_raw[];
  const uint32_t raw_u32 = smem_u32(smem_raw);
  const uint32_t base = (raw_u32 + 1023u) & ~1023u;
  uint8_t* const base_ptr = smem_raw + (base - raw_u32);
  const uint32_t q_smem = base;
  auto stage_addr = [&](int s) { return base + T::kStagesOffset + s * T::kStageBytes; };
  const uint32_t bars = base + T::kBarrierOffset;
  auto full_bar = [&](int s) { return bars + 8u * s; };
  auto empty_bar = [&](int s) { return bars + 8u * (T::kStages + s); };
  const uint32_t q_bar = bars + 8u * (2 * T::kStages);

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, wg = warp >> 2;
  // Diagnostics (INTFA_SM90_TRACE, never in a normal build): every consumer
  // warpgroup of the CTAs on SMs 0 and 1 prints its timeline in ns of the
  // global timer: entry, Q̂ landed, first key block landed, loop done, end,
  // and (last) the rows finished, just before the output stores.
#ifdef INTFA_SM90_TRACE
  uint64_t trace[6] = {globaltimer_ns(), 0, 0, 0, 0, 0};
#endif

  const TileCoords tile = tile_of_block(p, kBlockM);
  const int b = tile.b, h = tile.h, hk = tile.hk, m0 = tile.m0;
  auto visible = [&](int row) { return visible_keys(p, row); };
  const int n_blocks = (visible(min(m0 + kBlockM, p.seqlen_q) - 1) + kBlockN - 1) / kBlockN;

  if (tid == 0) {
    for (int s = 0; s < T::kStages; ++s) {
      mbar_init(full_bar(s), 32);                    // the producer warp's lanes (+ TMA bytes)
      mbar_init(empty_bar(s), 4 * T::kConsumers);    // one arrival per consumer warp
    }
    mbar_init(q_bar, 1);
    mbar_init_fence();
  }
  __syncthreads();

  if (wg == 0) {
    // ======================= producer =======================
    setmaxnreg_dec<T::kProducerRegs>();
    if (warp != 0 || n_blocks == 0) return;
    if (lane == 0) {
      prefetch_tensor_map(&prm.tma_q);
      prefetch_tensor_map(&prm.tma_k);
      prefetch_tensor_map(&prm.tma_v);
      mbar_arrive_expect_tx(q_bar, T::kQTileBytes);
#pragma unroll
      for (int pn = 0; pn < T::kQKPanels; ++pn)
        tma_load_4d(q_smem + pn * T::kQPanelBytes, &prm.tma_q, q_bar, pn * T::kQKSwizzle, h, m0, b);
    }
    constexpr int kScalesPerLane = kBlockN / 32;
    const float* ks_row = p.k_scale + (static_cast<int64_t>(b) * p.kv_heads + hk) * p.seqlen_k;
    float sc[kScalesPerLane];
    auto load_scales = [&](int n) {
#pragma unroll
      for (int i = 0; i < kScalesPerLane; ++i) {
        const int key = n * kBlockN + lane * kScalesPerLane + i;
        sc[i] = key < p.seqlen_k ? __ldg(ks_row + key) : 0.f;
      }
    };
    load_scales(0);
    for (int n = 0; n < n_blocks; ++n) {
      const int s = n % T::kStages, use = n / T::kStages;
      if (use > 0) mbar_wait(empty_bar(s), (use - 1) & 1);
      float* dst = reinterpret_cast<float*>(base_ptr + (stage_addr(s) - base) + T::kScaleOffset) +
                   lane * kScalesPerLane;
#pragma unroll
      for (int i = 0; i < kScalesPerLane; ++i) dst[i] = sc[i];
      if (lane == 0) {
        mbar_arrive_expect_tx(full_bar(s), T::kStageTxBytes);
        // K̂ panels and V̂ᵀ in kTmaSplit boxes each (kernel_traits.hpp).
#pragma unroll
        for (int pn = 0; pn < T::kQKPanels; ++pn)
#pragma unroll
          for (int q = 0; q < T::kTmaSplit; ++q)
            tma_load_4d(stage_addr(s) + pn * T::kKPanelBytes + q * T::kKBoxRows * T::kQKSwizzle,
                        &prm.tma_k, full_bar(s), pn * T::kQKSwizzle, hk, n * kBlockN + q * T::kKBoxRows, b);
#pragma unroll
        for (int pn = 0; pn < T::kVPanels; ++pn)
#pragma unroll
          for (int q = 0; q < T::kTmaSplit; ++q)
            tma_load_4d(stage_addr(s) + T::kVOffset + pn * T::kVPanelBytes + q * T::kVBoxRows * T::kVSwizzle,
                        &prm.tma_v, full_bar(s), n * kBlockN + pn * T::kVSwizzle, q * T::kVBoxRows, hk, b);
      } else {
        mbar_arrive(full_bar(s));
      }
      if (n + 1 < n_blocks) load_scales(n + 1);
    }
    return;
  }

  // ======================= consumers =======================
  setmaxnreg_inc<T::kConsumerRegs>();
  prefetch_column_scales<T::kHeadDim>(p, b, hk, lane);
  // Consumer index, read from lane 0 so the compiler knows it is warp-uniform:
  // the descriptors derived from it then live in uniform registers.
  const int cw = __shfl_sync(0xffffffffu, wg - 1, 0);
  const int wq = warp & 3;         // warp within the warpgroup: rows 16·wq..
  const int g = lane >> 2, t = lane & 3;
  const int wg_row0 = m0 + T::kRowsPerConsumer * cw;
  const int warp_row0 = wg_row0 + 16 * wq;
  const int row_of[2] = {warp_row0 + g, warp_row0 + g + 8};
  const int visible_of[2] = {visible(row_of[0]), visible(row_of[1])};
  // Keys some row of the warpgroup sees (blocks past it are skipped), and keys
  // every row of the warp sees (blocks past it need masking). warp_n_full is
  // read from lane 0 like cw: the compiler then knows that the masked/unmasked
  // branch on it is warp-uniform and drops the divergent-path handling of the
  // softmax's shuffles (BRA.DIV, and the register copies that keep both paths'
  // allocations in step). SASS of the D = 128 loop: 804 -> 776 instructions
  // per warp and key block, spills 60 -> 8 bytes (bench/sass_mix.py,
  // docs/PERF.md, twentieth session).
  const int wg_n_end =
      wg_row0 < p.seqlen_q ? visible(min(wg_row0 + T::kRowsPerConsumer, p.seqlen_q) - 1) : 0;
  const int warp_n_full = __shfl_sync(0xffffffffu, visible(warp_row0), 0);

  float row_factor[2], m_run[2], l_run[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    row_factor[r] = row_factor_of(p, b, h, row_of[r]);
    m_run[r] = kNegInf;
    l_run[r] = 0.f;  // partial over this thread's keys; summed over the quad at the end
  }
  float acc[T::kPvChunks][T::kPvRegs];
#pragma unroll
  for (int c = 0; c < T::kPvChunks; ++c)
#pragma unroll
    for (int i = 0; i < T::kPvRegs; ++i) acc[c][i] = 0.f;

  // Descriptors of this warpgroup's operands (k32 step kk).
  // Q̂ is loop-invariant; K̂ and V̂ᵀ are encoded once per stage use and
  // advanced by constant offsets per k step.
  const uint64_t q_desc0 =
      smem_desc(q_smem + cw * T::kRowsPerConsumer * T::kQKSwizzle, 8 * T::kQKSwizzle, T::kQKSwizzle);
  constexpr auto qk_step_offset = [](int kk, int panel_bytes) {
    return static_cast<uint32_t>((kk / T::kQKStepsPerPanel) * panel_bytes + (kk % T::kQKStepsPerPanel) * 32);
  };
  auto q_desc = [&](int kk) { return desc_advance(q_desc0, qk_step_offset(kk, T::kQPanelBytes)); };
  auto k_desc = [&](uint64_t k_desc0, int kk) {
    return desc_advance(k_desc0, qk_step_offset(kk, T::kKPanelBytes));
  };
  auto v_desc = [&](uint64_t v_desc0, int chunk, int kk) {
    return desc_advance(v_desc0, static_cast<uint32_t>((kk / T::kVStepsPerPanel) * T::kVPanelBytes +
                                                       chunk * T::kVChunkBytes +
                                                       (kk % T::kVStepsPerPanel) * 32));
  };

  // ---- the steps of one key block -----------------------------------------------------
  // S = Q̂·K̂ᵀ issued and committed (not waited for); the first k step
  // overwrites sacc. Split (Traits::kQKSplit): keys [0, N/2) and [N/2, N) as
  // two commit groups of N/2-key products into the two halves of sacc, whose
  // accumulator layouts are those of the N-key product's first and last
  // kSTiles/2 n8 tiles.
  auto issue_qk = [&](uint32_t st, int32_t (&sacc)[T::kSRegs]) {
    const uint64_t k0 = smem_desc(st, 8 * T::kQKSwizzle, T::kQKSwizzle);
    constexpr int kParts = kBlockN / T::kQKN;
    wgmma_fence();
#pragma unroll
    for (int part = 0; part < kParts; ++part) {
      int32_t (&d)[T::kQKN / 2] = *reinterpret_cast<int32_t (*)[T::kQKN / 2]>(sacc + part * T::kQKN / 2);
      // The part's K̂ rows start part·kQKN rows into each panel (whole 8-row
      // swizzle periods of kQKSwizzle bytes).
      const uint64_t kp = desc_advance(k0, static_cast<uint32_t>(part * T::kQKN * T::kQKSwizzle));
      if constexpr (kAblation == 2) {  // ablation 2: no Q̂·K̂ᵀ
#pragma unroll
        for (int i = 0; i < T::kQKN / 2; ++i) d[i] = 0;
      } else {
        Wgmma<T::kQKN>::template ss_s8s8<false>(d, q_desc(0), k_desc(kp, 0));
#pragma unroll
        for (int kk = 1; kk < T::kQKSteps; ++kk) Wgmma<T::kQKN>::ss_s8s8(d, q_desc(kk), k_desc(kp, kk));
      }
      wgmma_commit();
    }
  };
  // Ô chunk = P̂·V̂ over the k32 steps [first, last), issued (not waited
  // for); step 0 overwrites oacc.
  auto issue_pv = [&](uint32_t st, int chunk, const uint32_t (&pa)[T::kPvSteps][4],
                      int32_t (&oacc)[T::kPvRegs], int first = 0, int last = T::kPvSteps) {
    const uint64_t v0 = smem_desc(st + T::kVOffset, 8 * T::kVSwizzle, T::kVSwizzle);
    wgmma_fence();
    if constexpr (kAblation == 3) {  // ablation 3: no P̂·V̂
#pragma unroll
      for (int i = 0; i < T::kPvRegs; ++i) oacc[i] = 0;
      return;
    }
#pragma unroll
    for (int kk = 0; kk < T::kPvSteps; ++kk) {
      if (kk < first || kk >= last) continue;  // unrolled: first and last are constants
      if constexpr (kMode == PMode::uint8_block) {
        if (kk == 0)
          Wgmma<T::kPvN>::template rs_u8s8<false>(oacc, pa[kk], v_desc(v0, chunk, kk));
        else
          Wgmma<T::kPvN>::rs_u8s8(oacc, pa[kk], v_desc(v0, chunk, kk));
      } else {
        if (kk == 0)
          Wgmma<T::kPvN>::template rs_s8s8<false>(oacc, pa[kk], v_desc(v0, chunk, kk));
        else
          Wgmma<T::kPvN>::rs_s8s8(oacc, pa[kk], v_desc(v0, chunk, kk));
      }
    }
  };

  // O chunk += Ô·weight (O was already multiplied by this block's alpha).
  auto accumulate = [&](int chunk, const int32_t (&oacc)[T::kPvRegs], const float (&weight)[2]) {
#pragma unroll
    for (int i = 0; i < T::kPvRegs; ++i)
      acc[chunk][i] = fmaf(static_cast<float>(oacc[i]), weight[(i >> 1) & 1], acc[chunk][i]);
  };
  // From the S of the block at n0 (issued by issue_qk; scales in stage st):
  // waits for it, then the online-softmax update, P̂ packed as the A operand
  // of P·V (interleaved16 key order), the weight of this block's Ô, and the
  // alpha and l of the block (applied by rescale_rows while P·V runs).
  // Element (j, e) of x is key n0 + 8j + 2t + (e & 1) of row row_of[e >> 1].
  // With the P̂·V̂ split (Traits::kPvSplit) it stops before the quantization,
  // which the loop interleaves with the P̂·V̂ issues; x and p_offset are its
  // inputs.
  auto softmax = [&](int n0, uint32_t st, int32_t (&sacc)[T::kSRegs], float (&x)[T::kSTiles][4],
                     float (&p_offset)[2], uint32_t (&pa)[T::kPvSteps][4], float (&weight)[2],
                     float (&alpha)[2], float (&l_blk)[2]) {
    const uint32_t ks_smem = st + T::kScaleOffset + 8 * t;
    // x = S · k_scale of the n8 tiles [kBegin, kEnd); masked keys −inf in the
    // copy for ragged and causal-diagonal blocks (mask_tag), compiled out of
    // the other (a predicated compare and select per element otherwise).
    auto convert = [&](auto mask_tag, auto begin_tag, auto end_tag) {
      constexpr int kBegin = decltype(begin_tag)::value, kEnd = decltype(end_tag)::value;
#pragma unroll
      for (int j = kBegin; j < kEnd; ++j) {
        const float2 ks = lds_f32x2(ks_smem + 32 * j);
#pragma unroll
        for (int e = 0; e < 4; ++e) x[j][e] = static_cast<float>(sacc[4 * j + e]) * ((e & 1) ? ks.y : ks.x);
      }
      if constexpr (decltype(mask_tag)::value) {
        const int limit[2] = {visible_of[0] - n0 - 2 * t, visible_of[1] - n0 - 2 * t};
#pragma unroll
        for (int j = kBegin; j < kEnd; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (8 * j + (e & 1) >= limit[e >> 1]) x[j][e] = kNegInf;
      }
    };
    using Zero = std::integral_constant<int, 0>;
    using All = std::integral_constant<int, T::kSTiles>;
    // The tiles [kBegin, kEnd) through the copy their keys need (the branch
    // is warp-uniform and holds no wgmma).
    auto convert_range = [&](auto begin_tag, auto end_tag) {
      if (n0 + 8 * decltype(end_tag)::value > warp_n_full)
        convert(std::true_type{}, begin_tag, end_tag);
      else
        convert(std::false_type{}, begin_tag, end_tag);
    };
    if constexpr (T::kQKSplit) {
      constexpr int kHalf = T::kSTiles / 2;
      using Half = std::integral_constant<int, kHalf>;
      // First half landed: convert it and take its row max while the second
      // half's product runs. The register fences keep that work above the wait.
      wgmma_wait<1>();
      fence_registers_range<0, T::kSRegs / 2>(sacc);
      convert_range(Zero{}, Half{});
      float m_thread[2] = {thread_row_max<0, kHalf>(x, 0), thread_row_max<0, kHalf>(x, 1)};
      fence_registers(m_thread);
      wgmma_wait<0>();
      fence_registers_range<T::kSRegs / 2, T::kSRegs>(sacc);
      convert_range(Half{}, All{});
      m_thread[0] = fmaxf(m_thread[0], thread_row_max<kHalf, T::kSTiles>(x, 0));
      m_thread[1] = fmaxf(m_thread[1], thread_row_max<kHalf, T::kSTiles>(x, 1));
#pragma unroll
      for (int r = 0; r < 2; ++r)
        finish_block_max<kMode>(m_thread[r], r, row_factor, m_run, alpha, p_offset, weight);
      if constexpr (!T::kPvSplit)
        quantize_pack_p<kMode, kAblation == 1>(x, row_factor, p_offset, weight, pa, l_blk);
    } else {
      wgmma_wait<0>();
      fence_registers(sacc);
      // The whole softmax in each copy: with only the conversion in them the
      // D = 128 kernel measured 3% slower (docs/PERF.md, fourteenth session).
      auto whole = [&](auto mask_tag) {
        convert(mask_tag, Zero{}, All{});
        block_max_update<kMode>(x, row_factor, m_run, alpha, p_offset, weight);
        if constexpr (!T::kPvSplit)
          quantize_pack_p<kMode, kAblation == 1>(x, row_factor, p_offset, weight, pa, l_blk);
      };
      if (n0 + kBlockN > warp_n_full)
        whole(std::true_type{});
      else
        whole(std::false_type{});
    }
  };
  auto release = [&](int s) {
    __syncwarp();
    if (lane == 0) mbar_arrive(empty_bar(s));
  };
  // Blocks this warpgroup computes; the rest of the CTA's blocks (causal: keys
  // no row of this warpgroup sees) are only waited for and released.
  const int n_mine = min(n_blocks, (wg_n_end + kBlockN - 1) / kBlockN);
  if (n_mine > 0) mbar_wait(q_bar, 0);
  // Turns (Traits::kPingPong, kPvTurns) over the blocks both consumers
  // compute: consumer c issues its Q̂·K̂ᵀ after bar.sync on barrier 1 + c and
  // then arrives on the other's (2 − c); its first P̂·V̂ chunk likewise on
  // barriers 3 + c and 4 − c. Consumer 1 arrives once on 1 (and 3) before the
  // loop, so consumer 0 goes first, and consumer 0 syncs once on them after
  // it, which takes consumer 1's last arrivals: every barrier ends balanced.
  // No cycle: each consumer issues Q̂·K̂ᵀ(n) before P̂·V̂(n), and P̂·V̂(n − 1)
  // before Q̂·K̂ᵀ(n).
  int n_turns = 0;
  if constexpr (T::kPingPong) {
    // The blocks both compute: consumer 1 computes none when its rows lie
    // past seqlen_q (ragged last tile), else the causal mask gives consumer 0
    // the fewest. (n_end_of is wg_n_end's expression; computing wg_n_end
    // through it changed the SASS of the three-consumer kernels.)
    auto n_end_of = [&](int row0) {
      return row0 < p.seqlen_q ? visible(min(row0 + T::kRowsPerConsumer, p.seqlen_q) - 1) : 0;
    };
    const int n_end_both = min(n_end_of(m0), n_end_of(m0 + T::kRowsPerConsumer));
    n_turns = min(n_blocks, (n_end_both + kBlockN - 1) / kBlockN);
    if (cw == 1 && n_turns > 0) named_barrier_arrive(1, 256);
    if (T::kPvTurns && cw == 1 && n_turns > 0) named_barrier_arrive(3, 256);
  }
  const auto pv_turn_begin = [&](int n) {
    if (T::kPvTurns && n < n_turns) named_barrier_sync(3 + cw, 256);
  };
  const auto pv_turn_end = [&](int n) {
    if (T::kPvTurns && n < n_turns) named_barrier_arrive(4 - cw, 256);
  };
#ifdef INTFA_SM90_TRACE
  trace[1] = globaltimer_ns();
#endif

  // Per key block: S, softmax, Ô in turn. The consumers (2 or 3) overlap
  // each other: while one waits for its products the others run their
  // softmax. Within a consumer, the work that does not depend on a product
  // runs while it is in flight: O and l are rescaled by alpha after P·V is
  // issued, the output chunks run as a rolling window (Traits::kPvWindow
  // in flight), each accumulated while the next ones still run, and either
  // product may be split in two key halves (Traits::kQKSplit, kPvSplit), so
  // that the first half's softmax work or the second half's tensor work
  // overlaps the other half, in the registers the unsplit loop uses. Two
  // consumers take turns to issue their products (kPingPong, kPvTurns). (A
  // two-consumer software pipeline in the FlashAttention-3 order, S of block
  // n and Ô of block n − 1 in one phase with the consumers alternating on
  // named barriers, measured slower than three consumers with this loop:
  // docs/PERF.md; commit 77d3b17.)
  constexpr int kWindow = T::kPvWindow, kChunks = T::kPvChunks;
  int32_t sacc[T::kSRegs];
  for (int n = 0; n < n_blocks; ++n) {
    const int s = n % T::kStages;
    const uint32_t st = stage_addr(s);
    mbar_wait(full_bar(s), (n / T::kStages) & 1);
#ifdef INTFA_SM90_TRACE
    if (n == 0) trace[2] = globaltimer_ns();
#endif
    if (n < n_mine) {
      if (T::kPingPong && n < n_turns) named_barrier_sync(1 + cw, 256);
      issue_qk(st, sacc);
      if (T::kPingPong && n < n_turns) named_barrier_arrive(2 - cw, 256);
      uint32_t pa[T::kPvSteps][4];
      float x[T::kSTiles][4], p_offset[2], weight[2], alpha[2], l_blk[2];
      softmax(n * kBlockN, st, sacc, x, p_offset, pa, weight, alpha, l_blk);
      // Ô in a rolling window: chunk c lives in oacc[c % kWindow] and, once
      // accumulated, makes room for chunk c + kWindow.
      int32_t oacc[kWindow][T::kPvRegs];
      if constexpr (T::kPvSplit) {
        // The early chunks' products over the first half of the keys go to
        // the tensor cores as soon as that P̂ is packed, one commit group; the
        // second half's exponentials and codes run meanwhile, then one group
        // per chunk of the window for the rest (chunk c is complete when
        // group 1 + c is; the group of early halves is older than all).
        constexpr int kHalfTiles = T::kSTiles / 2, kHalfSteps = T::kPvSteps / 2;
        PRowSums sums;
        quantize_pack_p_range<kMode, kAblation == 1, 0, kHalfTiles>(x, row_factor, p_offset, pa, sums);
        pv_turn_begin(n);
#pragma unroll
        for (int f = 0; f < T::kPvEarlyChunks; ++f) issue_pv(st, f, pa, oacc[f], 0, kHalfSteps);
        wgmma_commit();
        quantize_pack_p_range<kMode, kAblation == 1, kHalfTiles, T::kSTiles>(x, row_factor, p_offset, pa,
                                                                             sums);
#pragma unroll
        for (int f = 0; f < kWindow; ++f) {
          issue_pv(st, f, pa, oacc[f], f < T::kPvEarlyChunks ? kHalfSteps : 0, T::kPvSteps);
          wgmma_commit();
        }
        pv_turn_end(n);
        block_l<kMode>(sums, weight, l_blk);
      } else {
#pragma unroll
        for (int f = 0; f < kWindow; ++f) {
          issue_pv(st, f, pa, oacc[f]);
          wgmma_commit();
        }
      }
      rescale_rows(l_run, l_blk, alpha, acc);
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        const int issued = c + kWindow < kChunks ? c + kWindow : kChunks;
        wgmma_wait_pending(issued - c - 1);
        fence_registers(oacc[c % kWindow]);
        accumulate(c, oacc[c % kWindow], weight);
        if (c + 1 < kChunks) fence_registers(acc[c]);  // before the next issue or wait
        if (c + kWindow < kChunks) {
          issue_pv(st, c + kWindow, pa, oacc[c % kWindow]);
          wgmma_commit();
        }
      }
    }
    release(s);
  }
  if (T::kPingPong && cw == 0 && n_turns > 0) named_barrier_sync(1, 256);
  if (T::kPvTurns && cw == 0 && n_turns > 0) named_barrier_sync(3, 256);

#ifdef INTFA_SM90_TRACE
  trace[3] = globaltimer_ns();
#endif
  // ---- epilogue: O = acc · v_scale / l, LSE -------------------------------------------
  // Column j's v_scale pair is column_scales[.][2j], [2j + 1] (see load_column_scales).
  float column_scales[T::kPvChunks][T::kPvN / 4];
#pragma unroll
  for (int c = 0; c < T::kPvChunks; ++c)
    load_column_scales<T::kHeadDim>(p, b, hk, c * T::kPvN, t, column_scales[c]);
  float inv_l[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) inv_l[r] = finish_row(p, b, h, row_of[r], l_run[r], m_run[r], t);
#ifdef INTFA_SM90_TRACE
  {  // stamp once the rows' sums and every v_scale are in registers
    float ready = inv_l[0] + inv_l[1];
#pragma unroll
    for (int c = 0; c < T::kPvChunks; ++c)
#pragma unroll
      for (int k = 0; k < T::kPvN / 4; ++k) ready += column_scales[c][k];
    trace[5] = globaltimer_ns() + (ready != ready ? 1 : 0);
  }
#endif
  // Pair i = (chunk c, n8 tile j) of the output: columns c·kPvN + 8j + 2t, +1.
  constexpr int kTilesPerChunk = T::kPvN / 8;
  store_output_rows<T::kPvChunks * kTilesPerChunk, T::kOutputStoreBytes>(
      p, b, h, row_of, t,
      [&](int i) { return (i / kTilesPerChunk) * T::kPvN + 8 * (i % kTilesPerChunk) + 2 * t; },
      [&](int r, int i) {
        const int c = i / kTilesPerChunk, j = i % kTilesPerChunk;
        return make_float2(acc[c][4 * j + 2 * r] * column_scales[c][2 * j] * inv_l[r],
                           acc[c][4 * j + 2 * r + 1] * column_scales[c][2 * j + 1] * inv_l[r]);
      });
#ifdef INTFA_SM90_TRACE
  trace[4] = globaltimer_ns();
  const uint32_t sm = smid();
  if (sm < 2 && (tid & 127) == 0)
    printf("TRACE sm %u cta %u consumer %d blocks %d %llu %llu %llu %llu %llu %llu\n", sm, blockIdx.x,
           cw, n_mine, trace[0], trace[1], trace[2], trace[3], trace[4], trace[5]);
#endif
#else
  // Built for another architecture: the host never launches this (sm_90a only).
  __trap();
#endif
}

}  // namespace intfa::cuda::sm90
