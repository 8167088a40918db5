// The quantization kernels' work units, shared by the separate kernels of
// src/cuda/quantize.cu (one launch per step: a grid of tiles) and the fused
// slice pipeline of src/cuda/quantize_fused.cu (one persistent launch that
// takes the same tiles from a queue):
//   * column_partials_tile  per-channel sum (float64) or amax of one token
//                           split of one (batch, head) slice;
//   * quantize_rows_tile    per-token codes and scales of a run of rows (Q, K);
//   * quantize_v_tile       128 tokens of V̂ᵀ (codes, transposed in registers);
//   * finish_mean_slice / finish_amax_slice: a slice's partials into the
//                           channel mean / the V scales.
// Every rounding is the numeric.hpp function the CPU calls, or an equivalent
// sequence giving the same byte (int8_code_bits). Global loads and stores of
// the vector forms take an L2 cache policy (common/ptx.cuh).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>
#include <cstring>
#include <string>
#include <type_traits>

#include "common/cuda_check.hpp"
#include "common/finite_check.hpp"
#include "common/ptx.cuh"  // kMagicFloat, L2 policies
#include "core/numeric.hpp"
#include "cuda_internal.hpp"

namespace intfa::cuda::quant {

// ---- element access ------------------------------------------------------------
template <typename T>
__device__ __forceinline__ float to_float(T x);
template <>
__device__ __forceinline__ float to_float<float>(float x) {
  return x;
}
template <>
__device__ __forceinline__ float to_float<__half>(__half x) {
  return __half2float(x);
}
template <>
__device__ __forceinline__ float to_float<__nv_bfloat16>(__nv_bfloat16 x) {
  return __bfloat162float(x);
}

template <typename T, int N>
struct alignas(sizeof(T) * N >= 16 ? 16 : sizeof(T) * N) Vec {
  T v[N];
};

// Elements per 16-byte vector: the width of the vector paths below.
template <typename T>
inline constexpr int kVecOf = static_cast<int>(16 / sizeof(T));

// kVec elements from p: one 16-byte load with the L2 policy when they fill
// one (the launch checks the alignment), else kVec scalar loads.
template <typename T, int kVec>
__device__ __forceinline__ Vec<T, kVec> load_vec(const T* p, uint64_t policy) {
  Vec<T, kVec> r;
  if constexpr (kVec * sizeof(T) == 16) {
#if __CUDA_ARCH__ >= 800
    const uint4 raw = ldg_16_hint(p, policy);
    std::memcpy(&r, &raw, 16);
#else
    (void)policy;
    r = *reinterpret_cast<const Vec<T, kVec>*>(p);
#endif
  } else {
    (void)policy;
#pragma unroll
    for (int i = 0; i < kVec; ++i) r.v[i] = p[i];
  }
  return r;
}
template <typename T, int kVec>
__device__ __forceinline__ void load_floats(const T* p, float (&v)[kVec], uint64_t policy) {
  const Vec<T, kVec> raw = load_vec<T, kVec>(p, policy);
#pragma unroll
  for (int i = 0; i < kVec; ++i) v[i] = to_float(raw.v[i]);
}
// 8 (aligned) or 4 code bytes with the L2 policy.
__device__ __forceinline__ void store_8(void* p, uint32_t lo, uint32_t hi, uint64_t policy) {
#if __CUDA_ARCH__ >= 800
  stg_8_hint(p, lo, hi, policy);
#else
  (void)policy;
  *reinterpret_cast<uint2*>(p) = make_uint2(lo, hi);
#endif
}
__device__ __forceinline__ void store_4(void* p, uint32_t v, uint64_t policy) {
#if __CUDA_ARCH__ >= 800
  stg_4_hint(p, v, policy);
#else
  (void)policy;
  *reinterpret_cast<uint32_t*>(p) = v;
#endif
}

// The L2 policies, or 0 where there are none (before sm_80 the loads and
// stores above ignore them).
enum class L2Priority { normal, first, last };
template <L2Priority kPriority>
__device__ __forceinline__ uint64_t l2_policy() {
#if __CUDA_ARCH__ >= 800
  if constexpr (kPriority == L2Priority::first) return l2_policy_evict_first();
  else if constexpr (kPriority == L2Priority::last) return l2_policy_evict_last();
  else return l2_policy_evict_normal();
#else
  return 0;
#endif
}

__device__ __forceinline__ bool is_finite(float x) { return fabsf(x) <= FLT_MAX; }

__device__ __forceinline__ void report_nonfinite(const FlagSlot& slot, int64_t b, int64_t s,
                                                 int64_t h, int64_t S, int64_t H) {
  const unsigned long long linear = static_cast<unsigned long long>((b * S + s) * H + h);
  atomicMin(slot.flag, slot.call_bits | linear);
}

// numeric::quantize_int8 as the low byte of a word, on the FMA pipe instead
// of FRND + F2I on the conversion unit: the clamp commutes with rint (±127
// are integers), the FADD of 1.5·2^23 rounds to the nearest integer with ties
// to even as rintf does, and the float's low byte is then the two's-complement
// code. The same byte as quantize_int8 for every finite x (tests compare every
// byte with the CPU's).
__device__ __forceinline__ uint32_t int8_code_bits(float x, float inverse_scale) {
  const float y = fminf(fmaxf(x * inverse_scale, -numeric::kInt8Max), numeric::kInt8Max);
  return __float_as_uint(y + kMagicFloat);
}
// The low bytes of four words, in order, in one word.
__device__ __forceinline__ uint32_t pack_low_bytes4(uint32_t b0, uint32_t b1, uint32_t b2,
                                                    uint32_t b3) {
  return __byte_perm(__byte_perm(b0, b1, 0x0040), __byte_perm(b2, b3, 0x0040), 0x5410);
}

// ---- per-token rows ---------------------------------------------------------------
struct RowArgs {
  const void* x = nullptr;
  int64_t xb = 0, xs = 0, xh = 0;  // element strides
  int64_t B = 0, S = 0, H = 0, D = 0;
  const float* mean = nullptr;  // [B, Hm, D]; head h uses h / mean_ratio
  int64_t mean_heads = 1, mean_ratio = 1;
  bool subtract_mean = false;     // K smoothing
  float* lse_offset = nullptr;    // [B, H, S] = x · mean (Q with smoothed K)
  int8_t* out = nullptr;
  int64_t ob = 0, os = 0, oh = 0;
  float* scale = nullptr;  // [B, H, S]
  FlagSlot slot;
  int lanes_log2 = 5;    // lanes per row: 2^lanes_log2 (vector form: D / kVec)
  int64_t row_tiles = 0; // tiles per (batch, head): ceil(S / rows per tile)
};

constexpr int kRowThreads = 256;
// A row tile is kRowsPerGroup · (256 / L) consecutive tokens of one head, so
// the index arithmetic (32-bit) and the mean row are paid once per
// kRowsPerGroup rows.
constexpr int kRowsPerGroup = 4;

// Sum / max over the `lanes` lanes of a row group (a power of two, aligned).
template <typename T, typename Op>
__device__ __forceinline__ T group_reduce(T v, unsigned mask, int lanes, Op op) {
  for (int o = lanes >> 1; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(mask, v, o));
  return v;
}

// Row tile `tile` (row_tiles per (batch, head), heads in order) with 256
// threads. Each row is quantized by a group of L = 2^lanes_log2 lanes:
//   vector form (kVec > 1): lane i holds elements [kVec·i, kVec·i + kVec) in
//     registers (D = kVec·L, one 16-byte load, one kVec-byte store);
//   scalar form (kVec = 1, any D and alignment): one warp per row, elements
//     i·32 + lane (at most 16 per lane: D <= 512), byte stores.
// kDot: Q's lse_offset (the float64 dot with mean(K)) is computed; the other
// instantiation keeps no float64 mean row. The mean row is read through L2
// (ld.cg): in the fused kernel another CTA wrote it during this launch.
// wait(): called by every thread once its row loads are issued and before
// it reads the mean (the fused kernel polls the mean's ready flag there, so
// the poll's latency overlaps the loads).
template <typename TIn, int kVec, bool kDot, typename Wait>
__device__ __forceinline__ void quantize_rows_tile(const RowArgs& a, unsigned tile_index,
                                                   uint64_t load_policy, uint64_t store_policy,
                                                   Wait&& wait) {
  const int L = 1 << a.lanes_log2;
  const int groups = kRowThreads >> a.lanes_log2;
  const int slot = threadIdx.x >> a.lanes_log2, lane = threadIdx.x & (L - 1);
  // 32-bit divisions (the launch keeps the tile count below 2^31).
  const unsigned tiles = static_cast<unsigned>(a.row_tiles), heads = static_cast<unsigned>(a.H);
  const unsigned bh = tile_index / tiles, tile = tile_index - bh * tiles;
  const unsigned b = bh / heads, h = bh - b * heads;
  const unsigned mask =
      L == 32 ? 0xffffffffu : ((1u << L) - 1u) << ((threadIdx.x & 31) & ~(L - 1));
  const TIn* const head_src = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  int8_t* const head_dst = a.out + b * a.ob + h * a.oh;
  const int64_t stat0 = (static_cast<int64_t>(b) * a.H + h) * a.S;  // scale, lse_offset
  const float* mu =
      a.mean ? a.mean + (static_cast<int64_t>(b) * a.mean_heads +
                         h / static_cast<unsigned>(a.mean_ratio)) * a.D
             : nullptr;
  const bool smooth = a.subtract_mean;
  constexpr int kMax = kVec > 1 ? kVec : 16;  // scalar form: D <= 512 = 16 · 32
  const int n = kVec > 1 ? 1 : static_cast<int>((a.D + 31) / 32);
  auto index = [&](int i) { return kVec > 1 ? lane * kVec + i : i * 32 + lane; };
  auto valid = [&](int i) { return kVec > 1 || (i < n && index(i) < a.D); };

  const int64_t s0 = static_cast<int64_t>(tile) * kRowsPerGroup * groups + slot;
  // Vector form: every row's 16 bytes are requested before the first is used
  // (four loads in flight per thread).
  [[maybe_unused]] Vec<TIn, kVec> raw[kRowsPerGroup];
  if constexpr (kVec > 1) {
#pragma unroll
    for (int r = 0; r < kRowsPerGroup; ++r) {
      const int64_t s = s0 + r * groups;
      if (s < a.S) raw[r] = load_vec<TIn, kVec>(head_src + s * a.xs + lane * kVec, load_policy);
    }
  }
  wait();

  float m[kMax];  // this lane's elements of the mean row (0 without one)
#pragma unroll
  for (int i = 0; i < kMax; ++i) m[i] = 0.f;
  if (mu != nullptr) {
    if constexpr (kVec > 1) {
#pragma unroll
      for (int i = 0; i < kVec; i += 4) {
        const float4 q4 = __ldcg(reinterpret_cast<const float4*>(mu + lane * kVec + i));
        m[i] = q4.x, m[i + 1] = q4.y, m[i + 2] = q4.z, m[i + 3] = q4.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i)
        if (valid(i)) m[i] = __ldcg(mu + index(i));
    }
  }

  double md[kDot ? kMax : 1];  // the same in float64, converted once (Q's lse_offset)
  if constexpr (kDot) {
#pragma unroll
    for (int i = 0; i < kMax; ++i) md[i] = static_cast<double>(m[i]);
  }

#pragma unroll
  for (int r = 0; r < kRowsPerGroup; ++r) {
    const int64_t s = s0 + r * groups;
    if (s >= a.S) break;  // whole row groups leave together
    const TIn* src = head_src + s * a.xs;
    // Pass 1: finiteness, amax (of x − mean for K).
    float v[kMax];
    if constexpr (kVec > 1) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[i] = to_float(raw[r].v[i]);
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i) v[i] = valid(i) ? to_float(src[index(i)]) : 0.f;
    }
    bool bad = false;
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < kMax; ++i) {
      bad |= !is_finite(v[i]);
      amax = fmaxf(amax, fabsf(smooth ? v[i] - m[i] : v[i]));
    }
    if (__any_sync(mask, bad)) {
      if (lane == 0) report_nonfinite(a.slot, b, s, h, a.S, a.H);
      continue;  // nothing is computed on bad input (the call throws)
    }
    if constexpr (kDot) {  // q·mean(K) in float64
      double dot = 0.0;
#pragma unroll
      for (int i = 0; i < kMax; ++i) dot += static_cast<double>(v[i]) * md[i];
      dot = group_reduce(dot, mask, L, [](double p, double q) { return p + q; });
      if (lane == 0) a.lse_offset[stat0 + s] = static_cast<float>(dot);
    }
    amax = group_reduce(amax, mask, L, [](float p, float q) { return fmaxf(p, q); });
    const float inv = numeric::int8_inverse_scale(amax);

    // Pass 2: the codes.
    int8_t* dst = head_dst + s * a.os;
    if constexpr (kVec > 1) {
      uint32_t words[kVec / 4];
#pragma unroll
      for (int w = 0; w < kVec / 4; ++w) {
        uint32_t c[4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float x = v[4 * w + i];
          c[i] = int8_code_bits(smooth ? x - m[4 * w + i] : x, inv);
        }
        words[w] = pack_low_bytes4(c[0], c[1], c[2], c[3]);
      }
      if constexpr (kVec == 8) {
        store_8(dst + lane * kVec, words[0], words[1], store_policy);
      } else {
        static_assert(kVec == 4, "16-byte vectors of 2- or 4-byte elements");
        store_4(dst + lane * kVec, words[0], store_policy);
      }
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i)
        if (valid(i)) dst[index(i)] = numeric::quantize_int8(smooth ? v[i] - m[i] : v[i], inv);
    }
    if (lane == 0) a.scale[stat0 + s] = numeric::int8_scale(amax);
  }
}

inline bool aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

// Whether every token row of a strided input splits into 16-byte vectors of
// kVecOf<TIn> channels (D a multiple of it, base and strides 16-byte aligned).
template <typename TIn>
bool vector_rows(const void* x, int64_t xb, int64_t xs, int64_t xh, int64_t D) {
  constexpr int64_t es = sizeof(TIn);
  return D % kVecOf<TIn> == 0 && aligned(x, 16) && (xb * es) % 16 == 0 && (xs * es) % 16 == 0 &&
         (xh * es) % 16 == 0;
}

// Sets lanes_log2 and row_tiles; returns whether the vector form applies:
// D = kVec · L with L a power of two <= 32, 16-byte input rows, kVec-byte
// output rows, 16-byte mean rows.
template <typename TIn>
bool configure_rows(RowArgs& a) {
  constexpr int kVec = kVecOf<TIn>;
  const int64_t lanes = a.D / kVec;
  const bool vec = vector_rows<TIn>(a.x, a.xb, a.xs, a.xh, a.D) && lanes <= 32 &&
                   (lanes & (lanes - 1)) == 0 && aligned(a.out, kVec) && a.ob % kVec == 0 &&
                   a.os % kVec == 0 && a.oh % kVec == 0 &&
                   (a.mean == nullptr || (aligned(a.mean, 16) && a.D % 4 == 0));
  a.lanes_log2 = 5;
  if (vec)
    while ((int64_t{1} << a.lanes_log2) > lanes) --a.lanes_log2;
  const int64_t rows_per_tile = (kRowThreads >> a.lanes_log2) * kRowsPerGroup;
  a.row_tiles = (a.S + rows_per_tile - 1) / rows_per_tile;
  if (a.row_tiles * a.B * a.H > 0x7fffffff) unsupported("too many token rows for one launch");
  return vec;
}

// ---- column reductions over tokens (channel mean of K, amax of V) -------------------
struct ColumnArgs {
  const void* x = nullptr;
  int64_t xb = 0, xs = 0, xh = 0;
  int64_t B = 0, S = 0, H = 0, D = 0;
  int64_t splits = 1, tokens_per_split = 0;
  void* partial = nullptr;  // [B·H, splits, D] double (sum) or float (amax)
  FlagSlot slot;
};

constexpr int kColThreads = 256;
constexpr int kColUnroll = 4;  // tokens loaded before any is summed: loads in flight

// Token split `split` of slice `head` (= b · H + h) with 256 threads. A
// thread owns kVec consecutive channels (G = D / kVec groups; kVec = 1 for
// any D) of every TL-th token of the split, TL = 256 / G token lanes (one lane
// and up to two groups per thread when G > 256); the lanes' partials are
// combined in shared memory (`red`: 256 · kVec accumulators) in a fixed order
// (deterministic).
template <typename TIn, int kVec, bool kSum>
__device__ __forceinline__ void column_partials_tile(
    const ColumnArgs& a, int64_t split, int64_t head,
    std::conditional_t<kSum, double, float>* red, uint64_t load_policy) {
  using Acc = std::conditional_t<kSum, double, float>;
  const int tid = threadIdx.x;
  const int64_t b = head / a.H, h = head % a.H;
  const int64_t s0 = split * a.tokens_per_split;
  const int64_t s1 = a.S < s0 + a.tokens_per_split ? a.S : s0 + a.tokens_per_split;
  const int G = static_cast<int>((a.D + kVec - 1) / kVec);
  const int lanes = G <= kColThreads ? kColThreads / G : 1;
  const int lane = G <= kColThreads ? tid / G : 0;
  const int g0 = G <= kColThreads ? tid % G : tid;
  const bool active = lane < lanes;
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  Acc* out = static_cast<Acc*>(a.partial) + (head * a.splits + split) * a.D;
  for (int g = g0; g < G; g += kColThreads) {  // twice only for kVec = 1, D > 256
    const int d0 = g * kVec;
    Acc acc[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i) acc[i] = Acc(0);
    int64_t first_bad = -1;
    if (active) {
      for (int64_t s = s0 + lane; s < s1; s += kColUnroll * lanes) {
        float x[kColUnroll][kVec];
#pragma unroll
        for (int u = 0; u < kColUnroll; ++u) {
          const int64_t su = s + u * lanes;
          if (su < s1) {
            load_floats<TIn, kVec>(base + su * a.xs + d0, x[u], load_policy);
          } else {
#pragma unroll
            for (int i = 0; i < kVec; ++i) x[u][i] = 0.f;
          }
        }
#pragma unroll
        for (int u = 0; u < kColUnroll; ++u) {  // tokens in increasing order
          bool bad = false;
#pragma unroll
          for (int i = 0; i < kVec; ++i) {
            bad |= !is_finite(x[u][i]);
            if constexpr (kSum) acc[i] += static_cast<double>(x[u][i]);
            else acc[i] = fmaxf(acc[i], fabsf(x[u][i]));
          }
          if (bad && first_bad < 0) first_bad = s + u * lanes;
        }
      }
    }
    if (first_bad >= 0) report_nonfinite(a.slot, b, first_bad, h, a.S, a.H);
    if (lanes == 1) {
#pragma unroll
      for (int i = 0; i < kVec; ++i)
        if (d0 + i < a.D) out[d0 + i] = acc[i];
      continue;
    }
#pragma unroll
    for (int i = 0; i < kVec; ++i) red[i * kColThreads + tid] = active ? acc[i] : Acc(0);
    __syncthreads();
    if (lane == 0) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        Acc total = acc[i];
        for (int l = 1; l < lanes; ++l) {  // fixed order: deterministic
          if constexpr (kSum) total += red[i * kColThreads + l * G + g];
          else total = fmaxf(total, red[i * kColThreads + l * G + g]);
        }
        if (d0 + i < a.D) out[d0 + i] = total;
      }
    }
  }
}

// mean[head, d] = (Σ_splits partial) / S, rounded once to fp32 like the CPU
// (the block's threads over the channels). Partials are read through L2.
__device__ __forceinline__ void finish_mean_slice(const double* partial, int64_t head,
                                                  int64_t splits, int64_t D, int64_t S,
                                                  float* mean) {
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    double sum = 0.0;
    for (int64_t k = 0; k < splits; ++k) sum += __ldcg(partial + (head * splits + k) * D + d);
    mean[head * D + d] = static_cast<float>(sum / static_cast<double>(S));
  }
}

// A slice's amax per channel (max over splits), or per tensor (max over
// channels too), into its scales and inverse scales (for the codes). `red`:
// blockDim.x floats of shared memory. Every thread of the block calls it.
__device__ __forceinline__ void finish_amax_slice(const float* partial, int64_t head,
                                                  int64_t splits, int64_t D, bool per_tensor,
                                                  float* inverse_scale, float* scale, float* red) {
  float all = 0.f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float m = 0.f;
    for (int64_t k = 0; k < splits; ++k)
      m = fmaxf(m, __ldcg(partial + (head * splits + k) * D + d));
    scale[head * D + d] = m;  // the channel's amax until the end
    all = fmaxf(all, m);
  }
  if (per_tensor) {
    red[threadIdx.x] = all;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
      if (static_cast<int>(threadIdx.x) < o)
        red[threadIdx.x] = fmaxf(red[threadIdx.x], red[threadIdx.x + o]);
      __syncthreads();
    }
    all = red[0];
  }
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    const float amax = per_tensor ? all : scale[head * D + d];
    inverse_scale[head * D + d] = numeric::int8_inverse_scale(amax);
    scale[head * D + d] = numeric::int8_scale(amax);
  }
}

// ---- V̂ᵀ ---------------------------------------------------------------------------------
struct VArgs {
  const void* x = nullptr;
  int64_t xb = 0, xs = 0, xh = 0;
  int64_t B = 0, S = 0, H = 0, D = 0, S_pad = 0;
  const float* inverse_scale = nullptr;  // [B·H, D]
  int8_t* vt = nullptr;                  // [B, H, D, S_pad]
  bool interleaved = false;              // interleaved16 token order
  bool vt_aligned8 = false;              // 8-byte stores (else two 4-byte ones)
  int token_lanes = 1;                   // TL, a power of two <= kVRunsMax
  int64_t slice = 0;                     // channels per tile: z takes [z·slice, +slice)
};

constexpr int kVMaxDim = 512;
constexpr int kVTokens = 128;                 // tokens per tile (= kVTokenAlign)
constexpr int kVRun = 8;                      // positions per thread and step: 8 bytes per channel
constexpr int kVRunsMax = kVTokens / kVRun;   // 16 token lanes at most
static_assert(kVTokens == kVTokenAlign, "a tile covers one padding unit of V̂ᵀ");

// Token (relative to its 16-group) at position k of the group for
// interleaved16: the device copy of intfa::vt_interleaved_token (params.hpp),
// checked against it below.
__host__ __device__ constexpr int interleaved_token(int k) {
  return 2 * (k >> 2) + (k & 1) + 8 * ((k >> 1) & 1);
}
constexpr bool interleaved_token_matches_params() {
  for (int k = 0; k < 16; ++k)
    if (interleaved_token(k) != vt_interleaved_token(k)) return false;
  return true;
}
static_assert(interleaved_token_matches_params(), "interleaved16 map differs from params.hpp");

// Tile (token block `xblock` of 128, slice `head`, channel slice `z`) with 256
// threads. A thread owns kVec consecutive channels of the slice (G = slice /
// kVec groups; kVec = 1 for any D, several groups per thread when G > 256)
// and, in steps of 8, the V̂ᵀ positions 8·(step·TL + lane) of the tile's 128
// (TL token lanes). Per step it reads the 8 positions' tokens (16-byte rows
// of kVec channels: a warp reads whole token rows), quantizes them with the
// channels' inverse scales and writes 8 contiguous bytes per channel, zeros
// past S. No shared memory: the transposition happens in the thread's
// registers. In interleaved16 order the 8 positions of a half group hold
// tokens 0, 1, 8, 9, 2, 3, 10, 11 (+ 4 for the second half) of the group.
// The inverse scales are read through L2 (in the fused kernel another CTA
// wrote them during this launch).
// wait(): as for quantize_rows_tile, before the inverse scales are read
// (after the first step's loads; threads without a token lane return first).
template <typename TIn, int kVec, typename Wait>
__device__ __forceinline__ void quantize_v_tile(const VArgs& a, int64_t xblock, int64_t head,
                                                int64_t z, uint64_t load_policy,
                                                uint64_t store_policy, Wait&& wait) {
  const int tid = threadIdx.x;
  const int64_t b = head / a.H, h = head % a.H;
  const int64_t s0 = xblock * kVTokens;
  const int64_t slice0 = z * a.slice;
  const int G = static_cast<int>((a.slice + kVec - 1) / kVec);
  const int TL = a.token_lanes;
  const int lane = G <= kColThreads ? tid / G : 0;
  if (lane >= TL) return;
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  for (int g = G <= kColThreads ? tid % G : tid; g < G; g += kColThreads) {
    const int d0 = static_cast<int>(slice0) + g * kVec;
    float inv[kVec];
    bool have_inv = false;
    int8_t* out = a.vt + (head * a.D + d0) * a.S_pad + s0;
    for (int step = 0; step * TL < kVRunsMax; ++step) {
      const int pos0 = kVRun * (step * TL + lane);
      // The 8 tokens' raw elements (16 bytes each in the vector form): half
      // the registers of floats, so more CTAs, hence more loads, per SM.
      Vec<TIn, kVec> x[kVRun];
#pragma unroll
      for (int k = 0; k < kVRun; ++k) {
        const int pos = pos0 + k;
        const int64_t s =
            s0 + (a.interleaved ? (pos & ~15) + interleaved_token(pos & 15) : pos);
        if (s < a.S) {
          x[k] = load_vec<TIn, kVec>(base + s * a.xs + d0, load_policy);
        } else {
#pragma unroll
          for (int i = 0; i < kVec; ++i) x[k].v[i] = TIn(0.f);
        }
      }
      if (!have_inv) {
        wait();
#pragma unroll
        for (int i = 0; i < kVec; ++i)
          inv[i] = d0 + i < a.D ? __ldcg(a.inverse_scale + head * a.D + d0 + i) : 0.f;
        have_inv = true;
      }
#pragma unroll
      for (int i = 0; i < kVec; ++i) {
        if (d0 + i >= a.D) break;
        uint32_t c[kVRun];
#pragma unroll
        for (int k = 0; k < kVRun; ++k) c[k] = int8_code_bits(to_float(x[k].v[i]), inv[i]);
        const uint32_t lo = pack_low_bytes4(c[0], c[1], c[2], c[3]);
        const uint32_t hi = pack_low_bytes4(c[4], c[5], c[6], c[7]);
        int8_t* dst = out + i * a.S_pad + pos0;
        if (a.vt_aligned8) {
          store_8(dst, lo, hi, store_policy);
        } else {
          store_4(dst, lo, store_policy);
          store_4(dst + 4, hi, store_policy);
        }
      }
    }
  }
}

// Token lanes of quantize_v_tile for `groups` channel groups per slice: as
// many as the groups leave threads for, a power of two, at most one
// 8-position run each.
inline int v_token_lanes(int64_t groups) {
  int tl = 1;
  while (groups <= kColThreads && 2 * tl * groups <= kColThreads && 2 * tl <= kVRunsMax) tl *= 2;
  return tl;
}

// Channels per V̂ᵀ tile: slices of 128 when D is a larger multiple of 128
// (with D = 256 in one tile per 128 tokens, each thread ran two 8-token steps
// in turn and the kernel reached 31% of DRAM bandwidth on the H100, D = 128:
// 62%; docs/PERF.md, fifteenth session).
inline int64_t v_channel_slice(int64_t D) { return D > 128 && D % 128 == 0 ? 128 : D; }

// ---- host helpers ------------------------------------------------------------------
template <typename F>
void dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(float{});
    case DType::f16: return f(__half{});
    case DType::bf16: return f(__nv_bfloat16{});
    default: unsupported("quantization input must be f32, f16 or bf16");
  }
}

inline int sm_count() {
  int device = 0, n = 0;
  INTFA_CUDA_CHECK(cudaGetDevice(&device));
  INTFA_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n;
}

inline void check_dim(const TensorView& x) {
  if (x.dim > kVMaxDim)
    unsupported("head dim " + std::to_string(x.dim) +
                " is not supported by the CUDA quantization kernels (at most 512)");
}

// The rows tiles' arguments for x (any strides) into int8 `out` (the same
// shape) with per-token scales; no mean.
inline RowArgs row_args(const TensorView& x, const TensorView& out, float* scale) {
  RowArgs a;
  a.x = x.data;
  a.xb = x.stride_batch, a.xs = x.stride_seq, a.xh = x.stride_head;
  a.B = x.batch, a.S = x.seq, a.H = x.heads, a.D = x.dim;
  a.out = static_cast<int8_t*>(out.data);
  a.ob = out.stride_batch, a.os = out.stride_seq, a.oh = out.stride_head;
  a.scale = scale;
  return a;
}
// Q's: with lse_offset = q · mean(K) when both k_mean and lse_offset are given
// (head h reads the mean of KV head h / (H / kv_heads)).
inline RowArgs q_row_args(const TensorView& q, const TensorView& out, float* scale,
                          const float* k_mean, int64_t kv_heads, float* lse_offset) {
  RowArgs a = row_args(q, out, scale);
  const bool offsets = k_mean != nullptr && lse_offset != nullptr;
  a.mean = offsets ? k_mean : nullptr;
  a.mean_heads = kv_heads > 0 ? kv_heads : 1;
  a.mean_ratio = kv_heads > 0 ? q.heads / kv_heads : 1;
  a.subtract_mean = false;
  a.lse_offset = offsets ? lse_offset : nullptr;
  return a;
}
// The V̂ᵀ tiles' arguments (token_lanes is set by the caller, which picks the
// vector or scalar form).
inline VArgs v_args(const TensorView& v, VtOrder order, int8_t* vt, const float* inverse_scale) {
  VArgs a;
  a.x = v.data;
  a.xb = v.stride_batch, a.xs = v.stride_seq, a.xh = v.stride_head;
  a.B = v.batch, a.S = v.seq, a.H = v.heads, a.D = v.dim;
  a.S_pad = padded_kv_length(v.seq);
  a.inverse_scale = inverse_scale;
  a.vt = vt;
  a.interleaved = order == VtOrder::interleaved16;
  a.vt_aligned8 = aligned(vt, 8);
  a.slice = v_channel_slice(a.D);
  if (a.S_pad / kVTokens > 0x7fffffff) unsupported("too many tokens for quantize_v");
  return a;
}

// Scratch that lives until the stream reaches the end of the call.
class StreamScratch {
 public:
  StreamScratch(size_t bytes, cudaStream_t stream) : stream_(stream) {
    INTFA_CUDA_CHECK(cudaMallocAsync(&ptr_, bytes > 0 ? bytes : 1, stream));
  }
  ~StreamScratch() { (void)cudaFreeAsync(ptr_, stream_); }
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  cudaStream_t stream_;
};

}  // namespace intfa::cuda::quant
