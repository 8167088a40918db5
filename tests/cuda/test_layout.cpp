// Host-only check of the attention kernel's index arithmetic (no GPU needed,
// runs in CI): the shared-memory layouts, ldmatrix lane addresses, the key
// permutation of S and the packing of P are replayed against a model of
// ldmatrix and mma.sync written from the PTX ISA fragment tables, and the
// resulting Q̂·K̂ᵀ and P·V products are compared with direct sums. Also counts
// shared-memory bank conflicts of every ldmatrix the kernel issues.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "core/numeric.hpp"
#include "sm80/kernel_traits.hpp"

namespace intfa::cuda {
namespace {

using Regs = std::array<uint32_t, 4>;

// ldmatrix.x4 (.b16): lane 8i+r gives the address of row r of matrix i; lane l
// receives, in register i, row l/4, 32-bit word l%4 of matrix i.
std::array<Regs, 32> ldmatrix_x4(const std::vector<uint8_t>& smem, const int (&addr)[32]) {
  std::array<Regs, 32> out{};
  for (int i = 0; i < 4; ++i)
    for (int l = 0; l < 32; ++l)
      std::memcpy(&out[l][i], &smem[static_cast<size_t>(addr[8 * i + l / 4] + 4 * (l % 4))], 4);
  return out;
}
// .trans: lane l receives column l/4 of matrix i, rows 2(l%4) (low half) and 2(l%4)+1.
std::array<Regs, 32> ldmatrix_x4_trans(const std::vector<uint8_t>& smem, const int (&addr)[32]) {
  std::array<Regs, 32> out{};
  for (int i = 0; i < 4; ++i)
    for (int l = 0; l < 32; ++l) {
      uint16_t lo, hi;
      const int col = l / 4, row = 2 * (l % 4);
      std::memcpy(&lo, &smem[static_cast<size_t>(addr[8 * i + row] + 2 * col)], 2);
      std::memcpy(&hi, &smem[static_cast<size_t>(addr[8 * i + row + 1] + 2 * col)], 2);
      out[l][i] = static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
    }
  return out;
}

// Bank conflicts of one ldmatrix.x4: each matrix (8 rows of 16 bytes) is one
// shared-memory wavefront when its rows fall in 8 different 16-byte bank groups.
int conflicts(const int (&addr)[32]) {
  int extra = 0;
  for (int i = 0; i < 4; ++i) {
    std::set<int> groups;
    for (int r = 0; r < 8; ++r) {
      EXPECT_EQ(addr[8 * i + r] % 16, 0) << "ldmatrix rows must be 16-byte aligned";
      groups.insert((addr[8 * i + r] / 16) % 8);
    }
    extra += 8 - static_cast<int>(groups.size());
  }
  return extra;
}

int8_t byte_of(uint32_t w, int i) { return static_cast<int8_t>((w >> (8 * i)) & 0xff); }

// m16n8k32 with 8-bit A (signed or unsigned) and s8 B, per the PTX layout.
void mma_8bit(std::array<std::array<int32_t, 4>, 32>& d, const std::array<Regs, 32>& a,
              const std::array<std::array<uint32_t, 2>, 32>& b, bool a_unsigned) {
  int32_t A[16][32], B[32][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int i = 0; i < 4; ++i) {
      auto av = [&](int reg) {
        const int8_t s = byte_of(a[l][reg], i);
        return a_unsigned ? static_cast<int32_t>(static_cast<uint8_t>(s)) : static_cast<int32_t>(s);
      };
      A[g][4 * t + i] = av(0);
      A[g + 8][4 * t + i] = av(1);
      A[g][16 + 4 * t + i] = av(2);
      A[g + 8][16 + 4 * t + i] = av(3);
      B[4 * t + i][g] = byte_of(b[l][0], i);
      B[16 + 4 * t + i][g] = byte_of(b[l][1], i);
    }
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
      int32_t s = 0;
      for (int k = 0; k < 32; ++k) s += A[row][k] * B[k][col];
      d[l][e] += s;
    }
  }
}

float half_lo(uint32_t w) { return numeric::half_bits_to_float(static_cast<uint16_t>(w & 0xffff)); }
float half_hi(uint32_t w) { return numeric::half_bits_to_float(static_cast<uint16_t>(w >> 16)); }

// m16n8k16 f16: A a[0] = A[g][2t,2t+1], a[1] = A[g+8][2t..], a[2] = A[g][8+2t..], a[3] = A[g+8][8+2t..].
void mma_f16(std::array<std::array<double, 4>, 32>& d, const std::array<Regs, 32>& a,
             const std::array<std::array<uint32_t, 2>, 32>& b) {
  double A[16][16], B[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    A[g][2 * t] = half_lo(a[l][0]), A[g][2 * t + 1] = half_hi(a[l][0]);
    A[g + 8][2 * t] = half_lo(a[l][1]), A[g + 8][2 * t + 1] = half_hi(a[l][1]);
    A[g][8 + 2 * t] = half_lo(a[l][2]), A[g][9 + 2 * t] = half_hi(a[l][2]);
    A[g + 8][8 + 2 * t] = half_lo(a[l][3]), A[g + 8][9 + 2 * t] = half_hi(a[l][3]);
    B[2 * t][g] = half_lo(b[l][0]), B[2 * t + 1][g] = half_hi(b[l][0]);
    B[8 + 2 * t][g] = half_lo(b[l][1]), B[9 + 2 * t][g] = half_hi(b[l][1]);
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l / 4, t = l % 4;
    for (int e = 0; e < 4; ++e) {
      const int row = g + 8 * (e >> 1), col = 2 * t + (e & 1);
      for (int k = 0; k < 16; ++k) d[l][e] += A[row][k] * B[k][col];
    }
  }
}

template <class T>
void check_traits() {
  SCOPED_TRACE(std::string("D=") + std::to_string(T::kHeadDim) + " " + pmode_name(T::kMode) +
               " N=" + std::to_string(T::kBlockN) + " warps=" + std::to_string(T::kWarps));
  std::mt19937 rng(1234 + T::kHeadDim + T::kBlockN + static_cast<int>(T::kMode));
  constexpr int D = T::kHeadDim, N = T::kBlockN, M = T::kBlockM;

  // The lane part of the key separates (the kernel relies on it).
  for (int j = 0; j < T::kNTiles; ++j)
    for (int e = 0; e < 4; ++e)
      for (int t = 0; t < 4; ++t)
        ASSERT_EQ(T::s_key(j, e, t), T::s_key(j, e, 0) + T::s_key(0, 0, t));
  // The kernel forms the ldmatrix addresses from the lane's tile-0, step-0
  // offset with an XOR per step and an immediate per tile (kernel_traits.hpp);
  // these must be the addresses the model below loads from.
  for (int l = 0; l < 32; ++l) {
    for (int jp = 0; jp < T::kNTiles / 2; ++jp)
      for (int c = 0; c < T::kDChunks; ++c)
        ASSERT_EQ(T::k_ldsm(l, jp, c), (T::k_ldsm(l, 0, 0) ^ T::k_ldsm_xor(c)) + T::k_ldsm_add(jp))
            << "K̂ lane " << l << " tile pair " << jp << " step " << c;
    for (int jdp = 0; jdp < T::kDTiles / 2; ++jdp)
      for (int cc = 0; cc < T::kPvSteps; ++cc)
        ASSERT_EQ(T::v_ldsm(l, jdp, cc),
                  (T::v_ldsm(l, 0, 0) ^ T::v_ldsm_xor(jdp, cc)) + T::v_ldsm_add(jdp, cc))
            << "V lane " << l << " tile pair " << jdp << " step " << cc;
  }
  // key_of_column is a permutation of the block.
  std::set<int> keys;
  for (int n = 0; n < N; ++n) keys.insert(T::key_of_column(n));
  ASSERT_EQ(static_cast<int>(keys.size()), N);
  ASSERT_EQ(*keys.rbegin(), N - 1);

  // Tile stores (cp.async destinations) are a bijection onto each tile.
  std::set<int> k_dst, v_dst, q_dst;
  for (int r = 0; r < N; ++r)
    for (int c = 0; c < T::kKRowChunks; ++c) k_dst.insert(T::k_offset(r, c));
  for (int r = 0; r < T::kVRows; ++r)
    for (int c = 0; c < T::kVRowChunks; ++c) v_dst.insert(T::v_offset(r, c));
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < T::kKRowChunks; ++c) q_dst.insert(T::q_offset(r, c));
  ASSERT_EQ(static_cast<int>(k_dst.size()), N * T::kKRowChunks);
  ASSERT_EQ(*k_dst.rbegin(), T::kKTileBytes - 16);
  ASSERT_EQ(static_cast<int>(v_dst.size()), T::kVRows * T::kVRowChunks);
  ASSERT_EQ(*v_dst.begin(), T::kKTileBytes);
  ASSERT_EQ(*v_dst.rbegin(), T::kScaleOffset - 16);
  ASSERT_EQ(static_cast<int>(q_dst.size()), M * T::kKRowChunks);
  ASSERT_LE(*q_dst.rbegin() + 16, T::kStageBytes);

  // Data: Q̂ [M, D], K̂ [N, D] int8; V [N, D] (int8 or small integers in fp16).
  std::uniform_int_distribution<int> i8(-127, 127), u8(0, 255), small(-8, 8);
  std::vector<int8_t> Q(static_cast<size_t>(M * D)), K(static_cast<size_t>(N * D));
  std::vector<int> V(static_cast<size_t>(N * D)), P(static_cast<size_t>(M * N));
  for (auto& x : Q) x = static_cast<int8_t>(i8(rng));
  for (auto& x : K) x = static_cast<int8_t>(i8(rng));
  for (auto& x : V) x = T::kIntP ? i8(rng) : small(rng);
  for (auto& x : P) x = T::kMode == PMode::uint8_block ? u8(rng) : T::kIntP ? u8(rng) / 2 : small(rng);

  std::vector<uint8_t> qs(static_cast<size_t>(T::kStageBytes), 0), st(static_cast<size_t>(T::kStageBytes), 0);
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < T::kKRowChunks; ++c)
      std::memcpy(&qs[static_cast<size_t>(T::q_offset(r, c))], &Q[static_cast<size_t>(r * D + 16 * c)], 16);
  for (int r = 0; r < N; ++r)
    for (int c = 0; c < T::kKRowChunks; ++c)
      std::memcpy(&st[static_cast<size_t>(T::k_offset(r, c))], &K[static_cast<size_t>(r * D + 16 * c)], 16);
  // V tile as the kernel's cp.async writes it: V̂ᵀ rows (channel, 16 keys per
  // chunk) or V rows (key, 8 fp16 channels per chunk).
  for (int r = 0; r < T::kVRows; ++r)
    for (int c = 0; c < T::kVRowChunks; ++c) {
      uint8_t chunk[16];
      for (int i = 0; i < 16; ++i) {
        if (T::kIntP) {
          chunk[i] = static_cast<uint8_t>(static_cast<int8_t>(V[static_cast<size_t>((16 * c + i) * D + r)]));
        } else if (i % 2 == 0) {
          const uint16_t h = numeric::float_to_half_bits(
              static_cast<float>(V[static_cast<size_t>(r * D + 8 * c + i / 2)]));
          chunk[i] = static_cast<uint8_t>(h & 0xff), chunk[i + 1] = static_cast<uint8_t>(h >> 8);
        }
      }
      std::memcpy(&st[static_cast<size_t>(T::v_offset(r, c))], chunk, 16);
    }

  int bank_conflicts = 0;
  for (int warp = 0; warp < T::kWarps; ++warp) {
    // Q̂ fragments.
    std::vector<std::array<Regs, 32>> qf(T::kDChunks);
    for (int c = 0; c < T::kDChunks; ++c) {
      int addr[32];
      for (int l = 0; l < 32; ++l) addr[l] = T::q_ldsm(l, warp, c);
      bank_conflicts += conflicts(addr);
      qf[static_cast<size_t>(c)] = ldmatrix_x4(qs, addr);
    }
    // S = Q̂·K̂ᵀ.
    std::vector<std::array<std::array<int32_t, 4>, 32>> s(T::kNTiles);
    for (auto& tile : s)
      for (auto& lane : tile) lane.fill(0);
    for (int c = 0; c < T::kDChunks; ++c)
      for (int jp = 0; jp < T::kNTiles / 2; ++jp) {
        int addr[32];
        for (int l = 0; l < 32; ++l) addr[l] = T::k_ldsm(l, jp, c);
        bank_conflicts += conflicts(addr);
        const auto kb = ldmatrix_x4(st, addr);
        std::array<std::array<uint32_t, 2>, 32> b0{}, b1{};
        for (int l = 0; l < 32; ++l) b0[l] = {kb[l][0], kb[l][1]}, b1[l] = {kb[l][2], kb[l][3]};
        mma_8bit(s[static_cast<size_t>(2 * jp)], qf[static_cast<size_t>(c)], b0, false);
        mma_8bit(s[static_cast<size_t>(2 * jp + 1)], qf[static_cast<size_t>(c)], b1, false);
      }
    for (int j = 0; j < T::kNTiles; ++j)
      for (int l = 0; l < 32; ++l)
        for (int e = 0; e < 4; ++e) {
          const int row = 16 * warp + l / 4 + 8 * (e >> 1), key = T::s_key(j, e, l % 4);
          int32_t ref = 0;
          for (int d = 0; d < D; ++d)
            ref += Q[static_cast<size_t>(row * D + d)] * K[static_cast<size_t>(key * D + d)];
          ASSERT_EQ(s[static_cast<size_t>(j)][static_cast<size_t>(l)][static_cast<size_t>(e)], ref)
              << "S tile " << j << " lane " << l << " element " << e;
        }

    // P (values at S positions, as the kernel computes them), packed.
    std::vector<std::array<Regs, 32>> pa(T::kPvSteps);
    for (int cc = 0; cc < T::kPvSteps; ++cc)
      for (int l = 0; l < 32; ++l)
        for (int a = 0; a < 4; ++a) {
          auto p_at = [&](int i) {
            const int j = T::p_tile(cc, a, i), e = T::p_elem(a, i);
            const int row = 16 * warp + l / 4 + 8 * (e >> 1);
            return P[static_cast<size_t>(row * N + T::s_key(j, e, l % 4))];
          };
          uint32_t w = 0;
          if (T::kIntP) {
            for (int i = 0; i < 4; ++i) w |= static_cast<uint32_t>(p_at(i) & 0xff) << (8 * i);
          } else {
            w = numeric::float_to_half_bits(static_cast<float>(p_at(0))) |
                (static_cast<uint32_t>(numeric::float_to_half_bits(static_cast<float>(p_at(1)))) << 16);
          }
          pa[static_cast<size_t>(cc)][static_cast<size_t>(l)][static_cast<size_t>(a)] = w;
        }
    // O = P·V.
    for (int jdp = 0; jdp < T::kDTiles / 2; ++jdp) {
      std::array<std::array<int32_t, 4>, 32> oi[2]{};
      std::array<std::array<double, 4>, 32> of[2]{};
      for (int cc = 0; cc < T::kPvSteps; ++cc) {
        int addr[32];
        for (int l = 0; l < 32; ++l) addr[l] = T::v_ldsm(l, jdp, cc);
        bank_conflicts += conflicts(addr);
        const auto vb = T::kIntP ? ldmatrix_x4(st, addr) : ldmatrix_x4_trans(st, addr);
        std::array<std::array<uint32_t, 2>, 32> b0{}, b1{};
        for (int l = 0; l < 32; ++l) b0[l] = {vb[l][0], vb[l][1]}, b1[l] = {vb[l][2], vb[l][3]};
        if (T::kIntP) {
          mma_8bit(oi[0], pa[static_cast<size_t>(cc)], b0, T::kMode == PMode::uint8_block);
          mma_8bit(oi[1], pa[static_cast<size_t>(cc)], b1, T::kMode == PMode::uint8_block);
        } else {
          mma_f16(of[0], pa[static_cast<size_t>(cc)], b0);
          mma_f16(of[1], pa[static_cast<size_t>(cc)], b1);
        }
      }
      for (int x = 0; x < 2; ++x)
        for (int l = 0; l < 32; ++l)
          for (int e = 0; e < 4; ++e) {
            const int row = 16 * warp + l / 4 + 8 * (e >> 1);
            const int col = 8 * (2 * jdp + x) + 2 * (l % 4) + (e & 1);
            int64_t ref = 0;
            for (int key = 0; key < N; ++key)
              ref += static_cast<int64_t>(P[static_cast<size_t>(row * N + key)]) *
                     V[static_cast<size_t>(key * D + col)];
            const double got = T::kIntP ? oi[x][static_cast<size_t>(l)][static_cast<size_t>(e)]
                                        : of[x][static_cast<size_t>(l)][static_cast<size_t>(e)];
            ASSERT_EQ(got, static_cast<double>(ref)) << "O tile " << 2 * jdp + x << " lane " << l;
          }
    }
  }
  EXPECT_EQ(bank_conflicts, 0) << "shared-memory bank conflicts in ldmatrix";
}

// The instantiated kernels (src/cuda/CMakeLists.txt) and the 4-warp CTA.
// Pipelining does not change any layout.
#define LAYOUT_TEST(D, MODE, N, W)                               \
  TEST(CudaLayout, D##_##MODE##_##N##_##W) {                     \
    check_traits<KernelTraits<D, PMode::MODE, N, W>>();          \
  }
LAYOUT_TEST(64, uint8_block, 64, 8)
LAYOUT_TEST(64, int8_running, 64, 8)
LAYOUT_TEST(64, f16, 64, 8)
LAYOUT_TEST(64, bf16, 64, 8)
LAYOUT_TEST(128, uint8_block, 128, 8)
LAYOUT_TEST(128, uint8_block, 64, 8)
LAYOUT_TEST(128, int8_running, 64, 8)
LAYOUT_TEST(128, f16, 64, 8)
LAYOUT_TEST(256, uint8_block, 64, 8)
LAYOUT_TEST(256, int8_running, 64, 8)
LAYOUT_TEST(256, f16, 64, 8)
LAYOUT_TEST(128, uint8_block, 128, 4)
LAYOUT_TEST(128, int8_running, 64, 4)
LAYOUT_TEST(64, uint8_block, 64, 4)
LAYOUT_TEST(64, uint8_block, 128, 4)  // the D = 64 default
LAYOUT_TEST(128, uint8_block, 64, 4)  // the pipelined D = 128 64-key kernel
LAYOUT_TEST(128, bf16, 64, 8)

}  // namespace
}  // namespace intfa::cuda
