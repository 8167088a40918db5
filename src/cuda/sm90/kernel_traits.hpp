// Compile-time configuration of the Hopper (wgmma) attention kernel: tile
// sizes, warpgroup roles, register budgets and the shared-memory map.
//
// CTA = 1 + kConsumers warpgroups: warpgroup 0 is the producer (one warp
// issues the TMA copies and stages the key scales), warpgroups 1.. are
// consumers, each owning 64 query rows (kBlockM = 64 · kConsumers). While one
// consumer runs its softmax another's wgmmas keep the tensor cores busy.
//
// Shared memory (every tile 1024-byte aligned, as the 128-byte swizzle needs):
//   Q̂ tile        kBlockM rows × D bytes, as D / kQKSwizzle column panels
//   stage s (kStages of them):
//     K̂ tile      kBlockN rows × D bytes, same panels
//     V̂ᵀ tile     D rows (channels) × kBlockN bytes (tokens, interleaved16 order),
//                 as kBlockN / kVSwizzle token panels of D rows × kVSwizzle bytes
//     key scales  kBlockN floats
//   mbarriers     full[kStages], empty[kStages], q_full
#pragma once

#include <cstdint>

#include "sm80/kernel_traits.hpp"  // PMode

namespace intfa::cuda::sm90 {

template <int kHeadDim_, PMode kMode_, int kBlockN_, int kConsumers_ = 2>
struct Traits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr PMode kMode = kMode_;
  static_assert(kMode == PMode::uint8_block || kMode == PMode::int8_running,
                "the wgmma kernel runs the full-int8 recipes");
  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dim 64, 128 or 256");

  // Keys per block = AttentionParams::kv_block. The instantiations
  // (src/cuda/CMakeLists.txt) use the mma.sync kernel's defaults, so the
  // numerics of a call do not depend on which kernel runs it, except intfa
  // at D = 256: 128 keys here, 64 on the mma.sync kernel, whose registers
  // cannot hold a 128-key score tile beside the 256-channel output. Here
  // they fit the 240-register consumers without a spill (scores 64, P̂ 16,
  // output 128; each Ô chunk reuses the score registers), and halving the
  // per-block work per key ran 18–26% faster on the H100 (docs/PERF.md,
  // fifteenth session). 256 keys (opt-in at D = 64 and 128, two consumers:
  // the 128-register score tile needs the 240-register budget) ran 2–4%
  // faster than the 128-key defaults (sixteenth session).
  static constexpr int kBlockN = kBlockN_;
  static_assert(kBlockN == 64 || kBlockN == 128 || kBlockN == 256, "key block 64, 128 or 256");
  // Consumer warpgroups: 3 (one more warp per scheduler to hide latency, 160
  // registers) or 2 (240 registers: D = 256's output accumulator needs them).
  static constexpr int kConsumers = kConsumers_;
  static_assert(kConsumers == 2 || kConsumers == 3, "2 or 3 consumer warpgroups");
  static_assert(kHeadDim <= 128 || kConsumers == 2, "D = 256 needs the 240-register consumers");
  static constexpr int kRowsPerConsumer = 64;  // wgmma M
  static constexpr int kBlockM = kConsumers * kRowsPerConsumer;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  // Stages of the K̂/V̂ᵀ ring. On the H100 the kernel got faster with every
  // stage removed: 3 were at least as fast as 4 in 15 interleaved
  // comparisons over three calls (+0.2% to +2.4%), 5 lost up to 1.4%, and 2
  // beat 3 at S = 4k in two calls (D = 128 +1.8% to +2.3%, causal +1.9%;
  // D = 64 +0.7% to +1.3%) and tied at 16k and at D = 256 (docs/PERF.md).
  // INTFA_SM90_STAGES overrides it for timing experiments.
#ifdef INTFA_SM90_STAGES
  static constexpr int kStages = INTFA_SM90_STAGES;
#else
  static constexpr int kStages = 2;
#endif
  static_assert(kStages >= 2, "the ring needs two stages: one loading while one is read");
  // setmaxnreg budgets: 128·(producer + consumers·consumer) ≤ 65536.
  static constexpr int kProducerRegs = kConsumers == 2 ? 24 : 32;
  static constexpr int kConsumerRegs = kConsumers == 2 ? 240 : 160;

  // Q̂ / K̂ rows are split into column panels of the swizzle width.
  static constexpr int kQKSwizzle = kHeadDim >= 128 ? 128 : 64;
  static constexpr int kQKPanels = kHeadDim / kQKSwizzle;
  static constexpr int kQKStepsPerPanel = kQKSwizzle / 32;  // k32 steps
  static constexpr int kQKSteps = kHeadDim / 32;
  // V̂ᵀ rows are kBlockN bytes, stored as token panels of the swizzle width
  // (at most 128 bytes): a 256-key block is two panels of D rows × 128 keys.
  static constexpr int kVSwizzle = kBlockN < 128 ? kBlockN : 128;
  static constexpr int kVPanels = kBlockN / kVSwizzle;
  static constexpr int kVStepsPerPanel = kVSwizzle / 32;  // k32 steps
  static constexpr int kPvSteps = kBlockN / 32;
  // P·V in output chunks (wgmma N = kPvN channels) whose int32 accumulators
  // live beside the fp32 output accumulator, issued as a rolling window of
  // kPvWindow chunks in flight: while chunk c is accumulated into O (an I2FP
  // and an FFMA per element) the tensor cores run the next one, and chunk
  // c + kPvWindow reuses c's registers. D = 64 and 128: chunks of 64, all in
  // flight. D = 256: two chunks of 128 in turn (the registers hold one).
  // Measured on the H100 (docs/PERF.md, sixth session): D = 256 as eight
  // chunks of 32 with two in flight, which overlaps every accumulation with
  // a product, ran 6% slower than this (narrow register-A wgmmas), and
  // chunks of 64 spill. INTFA_SM90_PV_CHUNK / INTFA_SM90_PV_WINDOW override
  // both for timing experiments.
#ifdef INTFA_SM90_PV_CHUNK
  static constexpr int kPvChunkLimit = INTFA_SM90_PV_CHUNK;
#else
  static constexpr int kPvChunkLimit = kHeadDim == 256 ? 128 : 64;
#endif
#ifdef INTFA_SM90_PV_WINDOW
  static constexpr int kPvWindowLimit = INTFA_SM90_PV_WINDOW;
#else
  static constexpr int kPvWindowLimit = kHeadDim == 256 ? 1 : 2;
#endif
  static_assert(kPvChunkLimit == 64 || kPvChunkLimit == 128, "P·V chunk of 64 or 128 channels");
  static constexpr int kPvN = kHeadDim < kPvChunkLimit ? kHeadDim : kPvChunkLimit;
  static constexpr int kPvChunks = kHeadDim / kPvN;
  static constexpr int kPvWindow = kPvWindowLimit < kPvChunks ? kPvWindowLimit : kPvChunks;
  // P̂·V̂ in two key halves: the products of the first kPvEarlyChunks chunks
  // over the first half of the keys are issued once those P̂ codes are
  // packed, while the second half's exponentials and codes are computed
  // (chunks of the window only: later chunks are issued as before). Measured
  // on the H100 for intfa (docs/PERF.md, fourteenth session): D = 128 +2 to
  // +3% at S = 4k and 8k, +0.4 to +1.7% at 16k (every chunk early; chunk 0
  // alone a little less); D = 256 +0.5 to +1.8%; D = 64 −1%, so D = 64 and
  // the unmeasured paper configurations do not split, except D = 64 with
  // 256-key blocks, where the split (and the P̂·V̂ turns it carries) ran
  // +16 to +23% (sixteenth session).
  // INTFA_SM90_PV_SPLIT=0 (off) | 1 (every chunk early) | 2 (chunk 0 early)
  // overrides it for timing experiments.
#ifdef INTFA_SM90_PV_SPLIT
  static constexpr int kPvSplitMode = INTFA_SM90_PV_SPLIT;
#else
  static constexpr int kPvSplitMode = kMode == PMode::uint8_block && (kHeadDim >= 128 || kBlockN == 256) ? 1 : 0;
#endif
  static constexpr bool kPvSplit = kPvSplitMode != 0 && kPvSteps % 2 == 0;
  static constexpr int kPvEarlyChunks = kPvSplitMode == 2 ? 1 : kPvWindow;
  static_assert(kPvWindow >= 1 && kPvWindow <= 3, "1 to 3 chunks in flight (wgmma_wait_pending)");
  // Widest store of 16-bit output rows (common/online_softmax.cuh,
  // store_output_rows), measured on the H100 (docs/PERF.md): 8 bytes from
  // D = 128 up, +3% at 4k (D = 128) and +1 to +3% (D = 256); 16 bytes there
  // −0.5 to −1.5% at D = 128 and neutral at D = 256; 8 bytes at D = 64 lost
  // 2–4% at 8k and 16k, so it keeps 4.
  static constexpr int kOutputStoreBytes = kHeadDim >= 128 ? 8 : 4;

  // Q̂·K̂ᵀ as two products of kBlockN / 2 keys, each its own commit group, so
  // the conversion, masking and partial row max of the first half run while
  // the tensor cores compute the second (no extra registers: the halves are
  // the two halves of the same accumulator). Measured on the H100
  // (docs/PERF.md, fourteenth session): D = 64 +5% at S = 4k, +0–3% at 16k;
  // D = 128 −11% (its two N = 64 products of four k steps each), so only
  // D = 64 splits. INTFA_SM90_QK_SPLIT=0|1 overrides it for timing
  // experiments.
#ifdef INTFA_SM90_QK_SPLIT
  static constexpr bool kQKSplit = INTFA_SM90_QK_SPLIT != 0;
#else
  static constexpr bool kQKSplit = kHeadDim_ == 64;
#endif
  // Keys per Q̂·K̂ᵀ product: a 256-key block is two products (and commit
  // groups) of 128 even unsplit, the widest generated wgmma.
  static constexpr int kQKHalves = kQKSplit ? kBlockN_ / 2 : kBlockN_;
  static constexpr int kQKN = kQKHalves < 128 ? kQKHalves : 128;

  // Two consumers take turns to issue their products (named barriers): the
  // Q̂·K̂ᵀ of a block, and the first P̂·V̂ chunk (from its early half to its
  // last k step), so the tensor cores run one warpgroup's whole product
  // before the other's instead of interleaving their k steps, and the first
  // to finish goes on with its softmax or accumulation while the other's
  // product runs. Measured on the H100 (docs/PERF.md, fifteenth session),
  // D = 256 intfa: Q̂·K̂ᵀ turns +3 to +5% on every shape, P̂·V̂ turns another
  // +7 to +9%. The paper configuration (64-key blocks, no split P̂·V̂) was
  // not measured and does not take turns. INTFA_SM90_PINGPONG=0 (no turns) |
  // 1 (Q̂·K̂ᵀ only) | 2 (both) overrides it for timing experiments.
#ifdef INTFA_SM90_PINGPONG
  static constexpr bool kPingPong = INTFA_SM90_PINGPONG != 0 && kConsumers == 2;
  static constexpr bool kPvTurns = INTFA_SM90_PINGPONG == 2 && kPingPong && kPvSplit;
#else
  static constexpr bool kPingPong = kConsumers == 2 && kMode == PMode::uint8_block;
  static constexpr bool kPvTurns = kPingPong && kPvSplit;  // the turn spans the split's issues
#endif
  static_assert(kQKN == 32 || kQKN == 64 || kQKN == 128, "a generated wgmma N (gen_wgmma.py)");

  static constexpr int kSTiles = kBlockN / 8;      // n8 tiles of the score accumulator
  static constexpr int kSRegs = kBlockN / 2;       // int32 score registers per thread
  static constexpr int kPvRegs = kPvN / 2;         // int32 registers of one P·V chunk
  static constexpr int kOTiles = kHeadDim / 8;     // n8 tiles of the output

  static constexpr int align1024(int x) { return (x + 1023) / 1024 * 1024; }
  static constexpr int kQTileBytes = kBlockM * kHeadDim;
  static constexpr int kQPanelBytes = kBlockM * kQKSwizzle;
  static constexpr int kKTileBytes = kBlockN * kHeadDim;
  static constexpr int kKPanelBytes = kBlockN * kQKSwizzle;
  static constexpr int kVTileBytes = kHeadDim * kBlockN;
  static constexpr int kVPanelBytes = kHeadDim * kVSwizzle;
  static constexpr int kVChunkBytes = kPvN * kVSwizzle;  // one chunk's rows within a panel
  static constexpr int kVOffset = kKTileBytes;
  static constexpr int kScaleOffset = kKTileBytes + kVTileBytes;
  static constexpr int kStageBytes = align1024(kScaleOffset + 4 * kBlockN);
  static constexpr int kStagesOffset = kQTileBytes;
  static constexpr int kBarrierOffset = kStagesOffset + kStages * kStageBytes;
  static constexpr int kBarrierBytes = 8 * (2 * kStages + 1);
  // Dynamic shared memory is only 16-byte aligned: 1024 bytes of slack.
  static constexpr int kSmemBytes = kBarrierOffset + kBarrierBytes + 1024;
  static constexpr uint32_t kStageTxBytes = kKTileBytes + kVTileBytes;  // TMA bytes per stage
  // Each K̂ panel and the V̂ᵀ tile arrive as kTmaSplit boxes of kKBoxRows keys
  // / kVBoxRows channels rather than one box each: the same shared-memory
  // image (every box starts on a whole swizzle period), in smaller bursts.
  // Measured on the H100 (docs/PERF.md, twelfth session): 4 boxes +1% at
  // S = 4k and +4% at 16k for D = 128. INTFA_SM90_SPLIT overrides it for
  // timing experiments.
#ifdef INTFA_SM90_SPLIT
  static constexpr int kTmaSplit = INTFA_SM90_SPLIT;
#else
  static constexpr int kTmaSplit = 4;
#endif
  static constexpr int kKBoxRows = kBlockN / kTmaSplit;
  static constexpr int kVBoxRows = kHeadDim / kTmaSplit;
  static_assert(kBlockN % kTmaSplit == 0 && kHeadDim % kTmaSplit == 0 && kKBoxRows % 8 == 0 &&
                    kVBoxRows % 8 == 0,
                "boxes of whole 8-row swizzle periods");

  static_assert(kQTileBytes % 1024 == 0 && kKTileBytes % 1024 == 0 && kVTileBytes % 1024 == 0,
                "tiles stay 1024-byte aligned");
  static_assert(kSmemBytes <= 227 * 1024, "fits the sm_90 shared memory");
  // Integer products convert to float exactly (I2FP below 2^24).
  static_assert(127 * 127 * kHeadDim < (1 << 24), "QK dot range");
  static_assert(255 * 127 * kBlockN < (1 << 24), "PV dot range");
};

}  // namespace intfa::cuda::sm90
