// Compile-time configuration of the mma.sync attention kernel and every index
// computation it makes: shared-memory tile layouts (XOR swizzles), the lane
// addresses of ldmatrix, the key order of the score accumulators and the
// packing of P into tensor-core A fragments.
//
// Everything here is constexpr and host-callable, so tests/cuda/test_layout.cpp
// replays the kernel's addressing on the host against a model of ldmatrix and
// mma.sync (PTX ISA fragment layouts) and checks the products, and counts
// shared-memory bank conflicts, without a GPU.
#pragma once

#include <cstdint>

#include "core/numeric.hpp"  // INTFA_HD

namespace intfa::cuda {

// How P is represented in the P·V product (one kernel instantiation each).
enum class PMode : int32_t {
  int8_running = 0,  // paper: round(127 · 2^(s - m_running)), s8 · s8 products
  uint8_block = 1,   // intfa: round(255 · 2^(s - m_block)), u8 · s8 products
  f16 = 2,           // half-int8 with fp16 V: P rounded to fp16, f16 · f16 products
  bf16 = 3,          // half-int8 with bf16 V: P rounded to bf16, bf16 · bf16 products
};

// uint8 P: key blocks between removals of the magic bias that the P·V
// products carry into the output accumulator (attention_kernel.cuh,
// pv_phase). The rounding-error bound on the output grows with it
// (tests/cuda/test_attention_cuda.cpp), the cost (D/8 FFMAs per removal and
// thread) shrinks. INTFA_SM80_BIAS_FLUSH overrides it for timing experiments
// (0: only at the end).
#ifdef INTFA_SM80_BIAS_FLUSH
inline constexpr int kSm80BiasFlushBlocks = INTFA_SM80_BIAS_FLUSH;
#else
inline constexpr int kSm80BiasFlushBlocks = 16;
#endif

constexpr const char* pmode_name(PMode m) {
  return m == PMode::int8_running ? "p-int8"
         : m == PMode::uint8_block ? "p-u8"
         : m == PMode::f16         ? "p-f16"
                                   : "p-bf16";
}

// How the key-block loop orders its phases (one kernel instantiation each).
// Every schedule performs the same operations on every block (same results).
enum class LoopSchedule : int32_t {
  plain = 0,      // per block and warp: Q̂·K̂ᵀ, softmax, P̂·V̂
  pipelined = 1,  // Q̂·K̂ᵀ of block b+1 issued before the softmax of block b
};

constexpr const char* schedule_name(LoopSchedule s) {
  return s == LoopSchedule::plain ? "plain" : "pipelined";
}

template <int kHeadDim_, PMode kMode_, int kBlockN_, int kWarps_ = 8,
          LoopSchedule kSchedule_ = LoopSchedule::plain>
struct KernelTraits {
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr PMode kMode = kMode_;
  static constexpr int kBlockN = kBlockN_;  // keys per block = AttentionParams::kv_block
  static constexpr bool kIntP = kMode == PMode::int8_running || kMode == PMode::uint8_block;

  // 8 warps (128 rows) or 4 warps (64 rows) per CTA. With 4, two or more
  // CTAs share an SM at the same registers per thread: their per-block
  // barriers are independent, so one CTA's Q·Kᵀ phase overlaps another's
  // softmax instead of all warps of the SM moving in lockstep.
  static constexpr int kWarps = kWarps_;
  static constexpr LoopSchedule kSchedule = kSchedule_;
  // Pipelined: Q̂·K̂ᵀ of block b+1 is issued before the softmax of block b
  // (one more S in registers; block b+1 must have landed a block earlier).
  static constexpr bool kPipelined = kSchedule == LoopSchedule::pipelined;
  static constexpr int kThreads = kWarps * 32;
  static constexpr int kBlockM = 16 * kWarps;  // each warp owns 16 query rows
  // CTAs per SM of the 4-warp plain kernels, and K/V tiles in flight
  // (block b+kStages−1 is copied while block b is computed). Timing
  // experiments (docs/PERF.md) override them with INTFA_SM80_CTAS (three
  // CTAs then default to 2 stages: three of 3 do not fit in shared memory
  // at D = 128) and INTFA_SM80_STAGES. The pipelined loop needs block b+1 a
  // block early, so it keeps 3 stages and 2 CTAs.
#if defined(INTFA_SM80_CTAS)
  static constexpr int kFourWarpCtas = kPipelined ? 2 : INTFA_SM80_CTAS;
#else
  static constexpr int kFourWarpCtas = 2;
#endif
#if defined(INTFA_SM80_STAGES)
  static constexpr int kStages = kPipelined ? 3 : INTFA_SM80_STAGES;
#else
  static constexpr int kStages = kWarps == 4 && kFourWarpCtas >= 3 ? 2 : 3;
#endif
  static_assert(kStages >= 2 && (!kPipelined || kStages >= 3), "stages: 2 or more, 3 for pipelining");
  // Registers: the O accumulator is 16·D/32 floats per thread, S is 16·BlockN/32:
  // 128 registers for D = 64 with 64-key blocks, up to 255 otherwise.
  static constexpr int kMinBlocksPerSm =
      (kHeadDim <= 64 && kBlockN <= 64 && !kPipelined ? 2 : 1) * (kWarps == 4 ? kFourWarpCtas : 1);
  // Widest store of 16-bit output rows (common/online_softmax.cuh,
  // store_output_rows), measured on the H100 (docs/PERF.md): 16 bytes from
  // D = 128 up +1 to +2% at D = 128 (8 bytes had been neutral); D = 64 keeps
  // 4 bytes, as on the wgmma kernel.
  static constexpr int kOutputStoreBytes = kHeadDim >= 128 ? 16 : 4;
  // uint8 P: key blocks between removals of the magic bias that the P·V
  // products carry into the output accumulator (kSm80BiasFlushBlocks).
  static constexpr int kBiasFlushBlocks = kSm80BiasFlushBlocks;

  static constexpr int kDChunks = kHeadDim / 32;  // k32 steps of Q·Kᵀ
  static constexpr int kNTiles = kBlockN / 8;     // n8 tiles of S
  static constexpr int kDTiles = kHeadDim / 8;    // n8 tiles of O
  // k steps of P·V: 32 keys (8-bit) or 16 keys (16-bit).
  static constexpr int kPvStep = kIntP ? 32 : 16;
  static constexpr int kPvSteps = kBlockN / kPvStep;

  // ---- shared memory: one stage = K̂ tile, V tile, K scales ----------------
  // K̂ tile: kBlockN rows (keys) of kHeadDim bytes.
  static constexpr int kKRowChunks = kHeadDim / 16;
  static constexpr int kKTileBytes = kBlockN * kHeadDim;
  // V tile. 8-bit: V̂ᵀ, kHeadDim rows (channels) of kBlockN bytes (keys).
  //         16-bit: V, kBlockN rows (keys) of 2·kHeadDim bytes.
  static constexpr int kVRows = kIntP ? kHeadDim : kBlockN;
  static constexpr int kVRowBytes = kIntP ? kBlockN : 2 * kHeadDim;
  static constexpr int kVRowChunks = kVRowBytes / 16;
  static constexpr int kVTileBytes = kVRows * kVRowBytes;
  static constexpr int kScaleOffset = kKTileBytes + kVTileBytes;  // kBlockN floats
  static constexpr int kStageBytes = kScaleOffset + kBlockN * 4;
  // Q̂ tile (kBlockM rows of kHeadDim bytes), loaded once into the last stage
  // before that stage is first used.
  static constexpr int kQTileBytes = kBlockM * kHeadDim;
  static constexpr int kSmemBytes = kStages * kStageBytes;

  static_assert(kHeadDim % 32 == 0 && kHeadDim >= 64, "head dim: multiple of 32, at least 64");
  static_assert(kBlockN % 32 == 0, "key block: multiple of 32");
  static_assert(kQTileBytes <= kStageBytes, "Q̂ tile must fit in one stage");
  static_assert(kKRowChunks >= 4 && kVRowChunks >= 4, "rows of at least 64 bytes");
  static_assert(kStageBytes % 128 == 0, "stages stay 128-byte aligned");
  // |Q̂·K̂| <= 127²·D and |P̂·V̂| <= 255·127·kBlockN must stay below 2^22 for
  // the exact int -> float conversion (ptx.cuh).
  static_assert(127 * 127 * kHeadDim < (1 << 22), "QK dot range");
  static_assert(!kIntP || 255 * 127 * kBlockN < (1 << 22), "PV dot range");

  // ---- swizzles ------------------------------------------------------------
  // Physical 16-byte chunk = logical chunk XOR swizzle(row). The pattern
  // makes the 8 rows that one ldmatrix matrix reads land in 8 different
  // 16-byte bank groups (tests/cuda/test_layout.cpp counts conflicts).
  // Rows read together are consecutive (Q̂, V, V̂ᵀ, K̂ of the 16-bit modes) or
  // the permuted key sets {0,1,4,5,8,9,12,13} (+2, +16) of the 8-bit modes.
  template <int kRowChunks>
  static constexpr INTFA_HD int swizzle_consecutive(int row) {
    return kRowChunks >= 8 ? (row & 7) : ((row >> 1) & 3);
  }
  template <int kRowChunks>
  static constexpr INTFA_HD int swizzle_permuted(int row) {
    return kRowChunks >= 8 ? ((row & 1) | ((row >> 1) & 6)) : ((row >> 2) & 3);
  }
  static constexpr INTFA_HD int k_offset(int row, int chunk) {
    const int s = kIntP ? swizzle_permuted<kKRowChunks>(row) : swizzle_consecutive<kKRowChunks>(row);
    return row * kHeadDim + ((chunk ^ s) << 4);
  }
  static constexpr INTFA_HD int q_offset(int row, int chunk) {
    return row * kHeadDim + ((chunk ^ swizzle_consecutive<kKRowChunks>(row)) << 4);
  }
  static constexpr INTFA_HD int v_offset(int row, int chunk) {
    return kKTileBytes + row * kVRowBytes + ((chunk ^ swizzle_consecutive<kVRowChunks>(row)) << 4);
  }

  // ---- key order of S ---------------------------------------------------------
  // 8-bit P: the mma's S column n is key key_of_column(n), chosen so that the
  // C fragment of two adjacent n8 tiles packs into the A fragment of the
  // m16n8k32 P·V product as keys in natural order: thread t's columns
  // 2t, 2t+1 of tiles 2i and 2i+1 become keys 4t..4t+3 (+16 for tiles 2, 3 of
  // each 32-key group). V̂ᵀ is then read in natural order. 16-bit P: identity.
  static constexpr INTFA_HD int key_of_column(int n) {
    if (!kIntP) return n;
    return (n & ~15) | (((n & 7) >> 1) << 2) | (((n >> 3) & 1) << 1) | (n & 1);
  }
  // Key (within the block) of element e (0..3) of S tile j for thread t.
  static constexpr INTFA_HD int s_key(int j, int e, int t) {
    return key_of_column(8 * j + 2 * t + (e & 1));
  }

  // ---- ldmatrix lane addresses (byte offsets inside a stage / the Q̂ tile) ----
  // Q̂ A fragment of k32 step c for the warp's 16 rows.
  static constexpr INTFA_HD int q_ldsm(int lane, int warp, int c) {
    const int i = lane >> 3, r = lane & 7;
    return q_offset(16 * warp + r + 8 * (i & 1), 2 * c + (i >> 1));
  }
  // K̂ B fragments of n8 tiles 2jp, 2jp+1, k32 step c: registers {0,1} and {2,3}.
  static constexpr INTFA_HD int k_ldsm(int lane, int jp, int c) {
    const int i = lane >> 3, r = lane & 7;
    return k_offset(key_of_column(8 * (2 * jp + (i >> 1)) + r), 2 * c + (i & 1));
  }
  // V B fragments of O tiles 2jdp, 2jdp+1 for P·V step cc.
  //   8-bit: V̂ᵀ rows = channels, 16 keys per matrix (non-transposed).
  //   16-bit: V rows = keys, 8 channels per matrix (transposed ldmatrix).
  static constexpr INTFA_HD int v_ldsm(int lane, int jdp, int cc) {
    const int i = lane >> 3, r = lane & 7;
    if (kIntP) return v_offset(8 * (2 * jdp + (i >> 1)) + r, 2 * cc + (i & 1));
    return v_offset(16 * cc + 8 * (i & 1) + r, 2 * jdp + (i >> 1));
  }

  // The kernel forms these addresses from one lane offset (tile 0, step 0):
  // the n8-tile pair enters additively (16 rows further on; rows 16 apart have
  // the same swizzle) and the k32 step by XOR (the chunk 2c + b is 2c ^ b, and
  // the swizzle is an XOR on the chunk, so the step flips bits 5 and up of the
  // lane's offset, below the row's). So a block needs one XOR per step and
  // immediate offsets, not the swizzle arithmetic per ldmatrix (about 90
  // integer instructions per 128-key block at D = 128 before, docs/PERF.md).
  // tests/cuda/test_layout.cpp checks the identities for every lane:
  //   k_ldsm(l, jp, c)   == (k_ldsm(l, 0, 0) ^ k_ldsm_xor(c)) + k_ldsm_add(jp)
  //   v_ldsm(l, jdp, cc) == (v_ldsm(l, 0, 0) ^ v_ldsm_xor(jdp, cc)) + v_ldsm_add(jdp, cc)
  static constexpr INTFA_HD int k_ldsm_xor(int c) { return c << 5; }
  static constexpr INTFA_HD int k_ldsm_add(int jp) { return jp * 16 * kHeadDim; }
  // 8-bit: the step cc picks the chunk, the tile pair the rows; 16-bit
  // (transposed): the other way round.
  static constexpr INTFA_HD int v_ldsm_xor(int jdp, int cc) { return (kIntP ? cc : jdp) << 5; }
  static constexpr INTFA_HD int v_ldsm_add(int jdp, int cc) { return (kIntP ? jdp : cc) * 16 * kVRowBytes; }

  // ---- P packing ---------------------------------------------------------------
  // A register a (0..3) of P·V step cc is made of the S elements
  // (tile p_tile(cc, a, i), element p_elem(a, i)) for i = 0..3 (8-bit, byte i)
  // or i = 0..1 (16-bit, half i).
  static constexpr INTFA_HD int p_tile(int cc, int a, int i) {
    return kIntP ? 4 * cc + 2 * (a >> 1) + (i >> 1) : 2 * cc + (a >> 1);
  }
  static constexpr INTFA_HD int p_elem(int a, int i) {
    return kIntP ? 2 * (a & 1) + (i & 1) : 2 * (a & 1) + i;
  }
};

}  // namespace intfa::cuda
