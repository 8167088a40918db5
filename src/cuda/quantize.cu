// CUDA quantization: per-token Q and K (optionally K-smoothed, with Q's
// lse_offset), the channel mean of K, V to the token-contiguous V̂ᵀ layout in
// either token order (natural / interleaved16, params.hpp), and the copy of
// V̂ᵀ from one order to the other.
// Same bytes and scales as src/cpu/quantize_cpu.cpp: every rounding is the
// numeric.hpp function the CPU calls, or (int8_code_bits) an equivalent
// sequence that gives the same byte. Two sums are computed in another order
// than on the CPU (both in float64, rounded once to fp32 at the end, so they
// differ only when the float64 sums differ across an fp32 rounding boundary):
//   * channel_mean: the CPU sums the tokens in order; here per-thread partial
//     sums over strided tokens, combined in a fixed order (deterministic);
//   * lse_offset = q·mean(K): per-lane partial sums combined by a butterfly.
// Memory-bound (docs/PERF.md, "End to end: the quantization kernels"): Q and
// K rows in one read and one write, 16-byte loads, a row per D/8 lanes; V
// and channel_mean need a reduction over all tokens first (two reads of V,
// one of K for the mean plus the quantization pass), done with 16-byte loads
// in one wave of CTAs.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <string>
#include <type_traits>

#include "common/cuda_check.hpp"
#include "common/ptx.cuh"  // kMagicFloat
#include "common/finite_check.hpp"
#include "core/backend_dispatch.hpp"
#include "core/numeric.hpp"
#include "cuda_internal.hpp"

namespace intfa::cuda {
namespace {

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

__device__ __forceinline__ bool is_finite(float x) { return fabsf(x) <= FLT_MAX; }

__device__ __forceinline__ void report_nonfinite(const FlagSlot& slot, int64_t b, int64_t s,
                                                 int64_t h, int64_t S, int64_t H) {
  const unsigned long long linear = static_cast<unsigned long long>((b * S + s) * H + h);
  atomicMin(slot.flag, slot.call_bits | linear);
}

// ---- shared pieces -----------------------------------------------------------------
// Elements per 16-byte vector: the width of the vector paths below.
template <typename T>
inline constexpr int kVecOf = static_cast<int>(16 / sizeof(T));

// kVec consecutive elements as floats: one 16-byte load when they fill one
// (the launch checks the alignment), else kVec scalar loads.
template <typename T, int kVec>
__device__ __forceinline__ void load_floats(const T* p, float (&v)[kVec]) {
  if constexpr (kVec * sizeof(T) == 16) {
    const Vec<T, kVec> raw = *reinterpret_cast<const Vec<T, kVec>*>(p);
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] = to_float(raw.v[i]);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) v[i] = to_float(p[i]);
  }
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
  int64_t row_tiles = 0; // CTAs per (batch, head): ceil(S / rows per CTA)
};

constexpr int kRowThreads = 256;

// Sum / max over the `lanes` lanes of a row group (a power of two <= 32,
// aligned). All 32 lanes of the warp take part (full mask: the xor partners
// of o < lanes stay inside the group) over a fixed unrolled list of offsets
// with warp-uniform guards. With the group's own mask and a run-time loop
// (before), the H100 build ran a loop with a REDUX.OR / VOTE convergence
// check (BRA.DIV) around every shuffle; this form took 5-12% less
// quantization time at D = 256 (docs/PERF.md, eighteenth session).
template <typename T, typename Op>
__device__ __forceinline__ T group_reduce(T v, int lanes, Op op) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    if (o < lanes) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Grid: 1-D, row_tiles CTAs per (batch, head); a CTA takes kRowsPerGroup ·
// (256 / L) consecutive tokens of one head, so the index arithmetic (32-bit)
// and the mean row are paid once per kRowsPerGroup rows. Each row is
// quantized by a group of L = 2^lanes_log2 lanes:
//   vector form (kVec > 1): lane i holds elements [kVec·i, kVec·i + kVec) in
//     registers (D = kVec·L, one 16-byte load, one kVec-byte store);
//   scalar form (kVec = 1, any D and alignment): one warp per row, elements
//     i·32 + lane (at most 16 per lane: D <= 512), byte stores.
constexpr int kRowsPerGroup = 4;

// kDot: Q's lse_offset (the float64 dot with mean(K)) is computed; the other
// instantiation keeps no float64 mean row.
template <typename TIn, int kVec, bool kDot>
__global__ void __launch_bounds__(kRowThreads) quantize_rows_kernel(const RowArgs a) {
  const int L = 1 << a.lanes_log2;
  const int groups = kRowThreads >> a.lanes_log2;
  const int slot = threadIdx.x >> a.lanes_log2, lane = threadIdx.x & (L - 1);
  // 32-bit divisions (the launch keeps the grid below 2^31 CTAs).
  const unsigned tiles = static_cast<unsigned>(a.row_tiles), heads = static_cast<unsigned>(a.H);
  const unsigned bh = blockIdx.x / tiles, tile = blockIdx.x - bh * tiles;
  const unsigned b = bh / heads, h = bh - b * heads;
  // This row group's lanes in the warp (for the ballot of non-finite rows).
  const unsigned group_bits =
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

  float m[kMax];  // this lane's elements of the mean row (0 without one)
#pragma unroll
  for (int i = 0; i < kMax; ++i) m[i] = 0.f;
  if (mu != nullptr) {
    if constexpr (kVec > 1) {
#pragma unroll
      for (int i = 0; i < kVec; i += 4) {
        const float4 q4 = *reinterpret_cast<const float4*>(mu + lane * kVec + i);
        m[i] = q4.x, m[i + 1] = q4.y, m[i + 2] = q4.z, m[i + 3] = q4.w;
      }
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i)
        if (valid(i)) m[i] = mu[index(i)];
    }
  }

  double md[kDot ? kMax : 1];  // the same in float64, converted once (Q's lse_offset)
  if constexpr (kDot) {
#pragma unroll
    for (int i = 0; i < kMax; ++i) md[i] = static_cast<double>(m[i]);
  }

  const int64_t s0 = static_cast<int64_t>(tile) * kRowsPerGroup * groups + slot;
  // Vector form: every row's 16 bytes are requested before the first is used
  // (four loads in flight per thread).
  [[maybe_unused]] Vec<TIn, kVec> raw[kRowsPerGroup];
  if constexpr (kVec > 1) {
#pragma unroll
    for (int r = 0; r < kRowsPerGroup; ++r) {
      const int64_t s = s0 + r * groups;
      if (s < a.S) raw[r] = *reinterpret_cast<const Vec<TIn, kVec>*>(head_src + s * a.xs + lane * kVec);
    }
  }
  // Every lane runs all kRowsPerGroup rows (rows past S compute on zeros and
  // store nothing), so the warp stays converged for the shuffles and ballots.
#pragma unroll
  for (int r = 0; r < kRowsPerGroup; ++r) {
    const int64_t s = s0 + r * groups;
    const bool row = s < a.S;
    const TIn* src = head_src + (row ? s : 0) * a.xs;
    // Pass 1: finiteness, amax (of x − mean for K).
    float v[kMax];
    if constexpr (kVec > 1) {
#pragma unroll
      for (int i = 0; i < kVec; ++i) v[i] = to_float(raw[r].v[i]);
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i) v[i] = row && valid(i) ? to_float(src[index(i)]) : 0.f;
    }
    if constexpr (kVec > 1) {
      if (!row) {
#pragma unroll
        for (int i = 0; i < kVec; ++i) v[i] = 0.f;
      }
    }
    bool bad = false;
    float amax = 0.f;
#pragma unroll
    for (int i = 0; i < kMax; ++i) {
      bad |= !is_finite(v[i]);
      amax = fmaxf(amax, fabsf(smooth ? v[i] - m[i] : v[i]));
    }
    // A row with NaN/Inf is reported and stores nothing (the call throws).
    const bool row_bad = (__ballot_sync(0xffffffffu, bad) & group_bits) != 0;
    if (row && row_bad && lane == 0) report_nonfinite(a.slot, b, s, h, a.S, a.H);
    const bool store = row && !row_bad;
    if constexpr (kDot) {  // q·mean(K) in float64
      double dot = 0.0;
#pragma unroll
      for (int i = 0; i < kMax; ++i) dot += static_cast<double>(v[i]) * md[i];
      dot = group_reduce(dot, L, [](double p, double q) { return p + q; });
      if (store && lane == 0) a.lse_offset[stat0 + s] = static_cast<float>(dot);
    }
    amax = group_reduce(amax, L, [](float p, float q) { return fmaxf(p, q); });
    const float inv = numeric::int8_inverse_scale(amax);

    // Pass 2: the codes.
    int8_t* dst = head_dst + s * a.os;
    if (!store) continue;  // after the last shuffle: divergence is harmless here
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
        *reinterpret_cast<uint2*>(dst + lane * kVec) = make_uint2(words[0], words[1]);
      } else {
        static_assert(kVec == 4, "16-byte vectors of 2- or 4-byte elements");
        *reinterpret_cast<uint32_t*>(dst + lane * kVec) = words[0];
      }
    } else {
#pragma unroll
      for (int i = 0; i < kMax; ++i)
        if (valid(i)) dst[index(i)] = numeric::quantize_int8(smooth ? v[i] - m[i] : v[i], inv);
    }
    if (lane == 0) a.scale[stat0 + s] = numeric::int8_scale(amax);
  }
}

bool aligned(const void* p, int64_t bytes) {
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

template <typename TIn>
void launch_rows_t(RowArgs a, cudaStream_t stream) {
  constexpr int kVec = kVecOf<TIn>;
  const int64_t lanes = a.D / kVec;
  // Vector form: D = kVec · L with L a power of two <= 32, 16-byte input rows,
  // kVec-byte output rows, 16-byte mean rows.
  const bool vec = vector_rows<TIn>(a.x, a.xb, a.xs, a.xh, a.D) && lanes <= 32 &&
                   (lanes & (lanes - 1)) == 0 && aligned(a.out, kVec) && a.ob % kVec == 0 &&
                   a.os % kVec == 0 && a.oh % kVec == 0 &&
                   (a.mean == nullptr || (aligned(a.mean, 16) && a.D % 4 == 0));
  a.lanes_log2 = 5;
  if (vec)
    while ((int64_t{1} << a.lanes_log2) > lanes) --a.lanes_log2;
  const int64_t rows_per_cta = (kRowThreads >> a.lanes_log2) * kRowsPerGroup;
  a.row_tiles = (a.S + rows_per_cta - 1) / rows_per_cta;
  const int64_t blocks = a.row_tiles * a.B * a.H;
  if (blocks == 0) return;
  if (blocks > 0x7fffffff) unsupported("too many token rows for one launch");
  const auto kernel = [&](auto dot) {
    constexpr bool kDot = decltype(dot)::value;
    return vec ? quantize_rows_kernel<TIn, kVec, kDot> : quantize_rows_kernel<TIn, 1, kDot>;
  };
  const auto launched = a.lse_offset != nullptr ? kernel(std::true_type{}) : kernel(std::false_type{});
  launched<<<static_cast<unsigned>(blocks), kRowThreads, 0, stream>>>(a);
  check_launch("quantize_rows_kernel");
}

void launch_rows(DType dtype, const RowArgs& a, cudaStream_t stream) {
  switch (dtype) {
    case DType::f32: return launch_rows_t<float>(a, stream);
    case DType::f16: return launch_rows_t<__half>(a, stream);
    case DType::bf16: return launch_rows_t<__nv_bfloat16>(a, stream);
    default: unsupported("quantization input must be f32, f16 or bf16");
  }
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

// Grid (splits, B·H). A thread owns kVec consecutive channels (G = D / kVec
// groups; kVec = 1 for any D) of every TL-th token of its split, TL = 256 / G
// token lanes (one lane and up to two groups per thread when G > 256); the
// lanes' partials are combined in shared memory in a fixed order
// (deterministic).
template <typename TIn, int kVec, bool kSum>
__global__ void __launch_bounds__(kColThreads) column_partials_kernel(const ColumnArgs a) {
  using Acc = std::conditional_t<kSum, double, float>;
  __shared__ Acc red[kColThreads * kVec];
  const int tid = threadIdx.x;
  const int64_t head = blockIdx.y, b = head / a.H, h = head % a.H;
  const int64_t s0 = blockIdx.x * a.tokens_per_split;
  const int64_t s1 = a.S < s0 + a.tokens_per_split ? a.S : s0 + a.tokens_per_split;
  const int G = static_cast<int>((a.D + kVec - 1) / kVec);
  const int lanes = G <= kColThreads ? kColThreads / G : 1;
  const int lane = G <= kColThreads ? tid / G : 0;
  const int g0 = G <= kColThreads ? tid % G : tid;
  const bool active = lane < lanes;
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  Acc* out = static_cast<Acc*>(a.partial) + (head * a.splits + blockIdx.x) * a.D;
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
            load_floats<TIn, kVec>(base + su * a.xs + d0, x[u]);
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

// mean[head, d] = (Σ_splits partial) / S, rounded once to fp32 like the CPU.
__global__ void finish_mean_kernel(const double* partial, int64_t heads, int64_t splits,
                                   int64_t D, int64_t S, float* mean) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= heads * D) return;
  const int64_t head = i / D, d = i % D;
  double sum = 0.0;
  for (int64_t k = 0; k < splits; ++k) sum += partial[(head * splits + k) * D + d];
  mean[i] = static_cast<float>(sum / static_cast<double>(S));
}

// One block per head: amax per channel (max over splits), or per tensor (max
// over channels too); writes the channels' scales and inverse scales (for the
// quantization pass).
__global__ void finish_amax_kernel(const float* partial, int64_t splits, int64_t D,
                                   bool per_tensor, float* inverse_scale, float* scale) {
  __shared__ float red[kColThreads];
  const int64_t head = blockIdx.x;
  float all = 0.f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float m = 0.f;
    for (int64_t k = 0; k < splits; ++k) m = fmaxf(m, partial[(head * splits + k) * D + d]);
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
  int64_t slice = 0;                     // channels per CTA: blockIdx.z takes [z·slice, +slice)
};

constexpr int kVMaxDim = 512;
constexpr int kVTokens = 128;                 // tokens per CTA (= kVTokenAlign)
constexpr int kVRun = 8;                      // positions per thread and step: 8 bytes per channel
constexpr int kVRunsMax = kVTokens / kVRun;   // 16 token lanes at most
static_assert(kVTokens == kVTokenAlign, "a CTA covers one padding unit of V̂ᵀ");

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

// Grid (S_pad / 128, B·H, D / slice). A thread owns kVec consecutive channels
// of the CTA's slice (G = slice / kVec groups; kVec = 1 for any D, several
// groups per thread when G > 256)
// and, in steps of 8, the V̂ᵀ positions 8·(step·TL + lane) of the CTA's 128
// (TL token lanes). Per step it reads the 8 positions' tokens (16-byte rows
// of kVec channels: a warp reads whole token rows), quantizes them with the
// channels' inverse scales and writes 8 contiguous bytes per channel, zeros
// past S. No shared memory: the transposition happens in the thread's
// registers. In interleaved16 order the 8 positions of a half group hold
// tokens 0, 1, 8, 9, 2, 3, 10, 11 (+ 4 for the second half) of the group.
template <typename TIn, int kVec>
__global__ void __launch_bounds__(kColThreads) quantize_v_kernel(const VArgs a) {
  const int tid = threadIdx.x;
  const int64_t head = blockIdx.y, b = head / a.H, h = head % a.H;
  const int64_t s0 = static_cast<int64_t>(blockIdx.x) * kVTokens;
  const int64_t slice0 = static_cast<int64_t>(blockIdx.z) * a.slice;
  const int G = static_cast<int>((a.slice + kVec - 1) / kVec);
  const int TL = a.token_lanes;
  const int lane = G <= kColThreads ? tid / G : 0;
  if (lane >= TL) return;
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  for (int g = G <= kColThreads ? tid % G : tid; g < G; g += kColThreads) {
    const int d0 = static_cast<int>(slice0) + g * kVec;
    float inv[kVec];
#pragma unroll
    for (int i = 0; i < kVec; ++i)
      inv[i] = d0 + i < a.D ? a.inverse_scale[head * a.D + d0 + i] : 0.f;
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
          x[k] = *reinterpret_cast<const Vec<TIn, kVec>*>(base + s * a.xs + d0);
        } else {
#pragma unroll
          for (int i = 0; i < kVec; ++i) x[k].v[i] = TIn(0.f);
        }
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
          *reinterpret_cast<uint2*>(dst) = make_uint2(lo, hi);
        } else {
          reinterpret_cast<uint32_t*>(dst)[0] = lo;
          reinterpret_cast<uint32_t*>(dst)[1] = hi;
        }
      }
    }
  }
}

// One thread per 16-position group of a V̂ᵀ row: 16 bytes in, permuted in
// registers, 16 bytes out. kToInterleaved: natural -> interleaved16, else back.
template <bool kToInterleaved>
__global__ void reorder_vt_kernel(const uint4* __restrict__ src, uint4* __restrict__ dst,
                                  int64_t groups) {
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= groups) return;
  const uint4 raw = src[g];
  const uint32_t in[4] = {raw.x, raw.y, raw.z, raw.w};
  uint32_t out[4] = {0, 0, 0, 0};
#pragma unroll
  for (int k = 0; k < 16; ++k) {  // position k of interleaved16 <-> token interleaved_token(k)
    const int from = kToInterleaved ? interleaved_token(k) : k;
    const int to = kToInterleaved ? k : interleaved_token(k);
    const uint32_t byte = (in[from >> 2] >> (8 * (from & 3))) & 0xffu;
    out[to >> 2] |= byte << (8 * (to & 3));
  }
  dst[g] = make_uint4(out[0], out[1], out[2], out[3]);
}

template <typename F>
void dispatch_float(DType dtype, F&& f) {
  switch (dtype) {
    case DType::f32: return f(float{});
    case DType::f16: return f(__half{});
    case DType::bf16: return f(__nv_bfloat16{});
    default: unsupported("quantization input must be f32, f16 or bf16");
  }
}

int sm_count() {
  int device = 0, n = 0;
  INTFA_CUDA_CHECK(cudaGetDevice(&device));
  INTFA_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
  return n;
}

// A column reduction ready to launch: the kernel for the input's type and
// alignment, and its token splits. The splits fill the GPU's resident CTA
// slots once (by the kernel's occupancy), so all CTAs run in one wave of
// equal work: with a few waves of short CTAs the last, partial one cost up
// to a third of the time.
struct ColumnLaunch {
  ColumnArgs args;
  void (*kernel)(ColumnArgs) = nullptr;
};

template <bool kSum>
ColumnLaunch column_launch(const TensorView& x) {
  ColumnLaunch c;
  ColumnArgs& a = c.args;
  a.x = x.data;
  a.xb = x.stride_batch, a.xs = x.stride_seq, a.xh = x.stride_head;
  a.B = x.batch, a.S = x.seq, a.H = x.heads, a.D = x.dim;
  dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    c.kernel = vector_rows<T>(a.x, a.xb, a.xs, a.xh, a.D) ? column_partials_kernel<T, kVecOf<T>, kSum>
                                                          : column_partials_kernel<T, 1, kSum>;
  });
  int per_sm = 0;
  INTFA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, reinterpret_cast<const void*>(c.kernel), kColThreads, 0));
  const int64_t heads = x.batch * x.heads;
  if (heads > 65535) unsupported("batch · heads must be at most 65535 for the CUDA reductions");
  const int64_t slots = static_cast<int64_t>(std::max(per_sm, 1)) * sm_count();
  a.splits = std::max<int64_t>(1, std::min<int64_t>({slots / heads, (x.seq + 31) / 32, 65535}));
  a.tokens_per_split = (x.seq + a.splits - 1) / a.splits;
  a.splits = (x.seq + a.tokens_per_split - 1) / a.tokens_per_split;
  return c;
}

// Per-channel partials (sum in float64 or amax) of x over the token splits.
void launch_column_partials(const ColumnLaunch& c, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(c.args.splits),
                  static_cast<unsigned>(c.args.B * c.args.H));
  c.kernel<<<grid, kColThreads, 0, stream>>>(c.args);
  check_launch("column_partials_kernel");
}

void check_dim(const TensorView& x) {
  if (x.dim > kVMaxDim)
    unsupported("head dim " + std::to_string(x.dim) +
                " is not supported by the CUDA quantization kernels (at most 512)");
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

}  // namespace
}  // namespace intfa::cuda

namespace intfa::cuda_backend {

using cuda::FlagSlot;

void channel_mean(const TensorView& k, float* mean, void* stream_ptr) {
  cuda::check_dim(k);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  cuda::ColumnLaunch c = cuda::column_launch<true>(k);
  cuda::ColumnArgs& a = c.args;
  cuda::StreamScratch partial(static_cast<size_t>(k.batch * k.heads * a.splits * k.dim) * 8,
                              stream);
  a.partial = partial.get();
  a.slot = cuda::begin_finite_check("K", k.seq, k.heads, stream);
  cuda::launch_column_partials(c, stream);
  const int64_t n = k.batch * k.heads * k.dim;
  cuda::finish_mean_kernel<<<static_cast<unsigned>((n + 255) / 256), 256, 0, stream>>>(
      static_cast<const double*>(a.partial), k.batch * k.heads, a.splits, k.dim, k.seq, mean);
  cuda::check_launch("finish_mean_kernel");
  cuda::end_finite_check(stream);
}

void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale, void* stream_ptr) {
  cuda::check_dim(x);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  cuda::RowArgs a;
  a.x = x.data;
  a.xb = x.stride_batch, a.xs = x.stride_seq, a.xh = x.stride_head;
  a.B = x.batch, a.S = x.seq, a.H = x.heads, a.D = x.dim;
  a.mean = mean;
  a.mean_heads = x.heads, a.mean_ratio = 1;
  a.subtract_mean = mean != nullptr;
  a.out = static_cast<int8_t*>(out.data);
  a.ob = out.stride_batch, a.os = out.stride_seq, a.oh = out.stride_head;
  a.scale = scale;
  a.slot = cuda::begin_finite_check(mean ? "K" : "input", x.seq, x.heads, stream);
  cuda::launch_rows(x.dtype, a, stream);
  cuda::end_finite_check(stream);
}

void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset, void* stream_ptr) {
  cuda::check_dim(q);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  cuda::RowArgs a;
  a.x = q.data;
  a.xb = q.stride_batch, a.xs = q.stride_seq, a.xh = q.stride_head;
  a.B = q.batch, a.S = q.seq, a.H = q.heads, a.D = q.dim;
  const bool offsets = k_mean != nullptr && lse_offset != nullptr;
  a.mean = offsets ? k_mean : nullptr;
  a.mean_heads = kv_heads > 0 ? kv_heads : 1;
  a.mean_ratio = kv_heads > 0 ? q.heads / kv_heads : 1;
  a.subtract_mean = false;
  a.lse_offset = offsets ? lse_offset : nullptr;
  a.out = static_cast<int8_t*>(out.data);
  a.ob = out.stride_batch, a.os = out.stride_seq, a.oh = out.stride_head;
  a.scale = scale;
  a.slot = cuda::begin_finite_check("Q", q.seq, q.heads, stream);
  cuda::launch_rows(q.dtype, a, stream);
  cuda::end_finite_check(stream);
}

void quantize_v(const TensorView& v, VFormat format, VtOrder order, int8_t* vt, float* scale,
                void* stream_ptr) {
  cuda::check_dim(v);
  if (reinterpret_cast<uintptr_t>(vt) % 4 != 0)
    cuda::unsupported("vt must be 4-byte aligned for the CUDA quantize_v (it writes 32-bit words)");
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int64_t heads = v.batch * v.heads;
  cuda::ColumnLaunch c = cuda::column_launch<false>(v);
  cuda::ColumnArgs& a = c.args;
  cuda::StreamScratch scratch(
      static_cast<size_t>(heads * a.splits * v.dim + heads * v.dim) * sizeof(float), stream);
  a.partial = scratch.get();
  float* inverse_scale = static_cast<float*>(scratch.get()) + heads * a.splits * v.dim;
  a.slot = cuda::begin_finite_check("V", v.seq, v.heads, stream);
  cuda::launch_column_partials(c, stream);
  cuda::finish_amax_kernel<<<static_cast<unsigned>(heads), cuda::kColThreads, 0, stream>>>(
      static_cast<const float*>(a.partial), a.splits, v.dim,
      format == VFormat::int8_per_tensor, inverse_scale, scale);
  cuda::check_launch("finish_amax_kernel");
  cuda::VArgs va;
  va.x = v.data;
  va.xb = v.stride_batch, va.xs = v.stride_seq, va.xh = v.stride_head;
  va.B = v.batch, va.S = v.seq, va.H = v.heads, va.D = v.dim;
  va.S_pad = padded_kv_length(v.seq);
  va.inverse_scale = inverse_scale;
  va.vt = vt;
  va.interleaved = order == VtOrder::interleaved16;
  va.vt_aligned8 = cuda::aligned(vt, 8);
  // Channel slices of 128 when D is a larger multiple of 128: with D = 256 in
  // one CTA per 128 tokens, each thread ran two 8-token steps in turn and the
  // kernel reached 31% of DRAM bandwidth on the H100 (D = 128: 62%;
  // docs/PERF.md, fifteenth session).
  va.slice = va.D > 128 && va.D % 128 == 0 ? 128 : va.D;
  const dim3 vgrid(static_cast<unsigned>(va.S_pad / cuda::kVTokens), static_cast<unsigned>(heads),
                   static_cast<unsigned>(va.D / va.slice));
  if (va.S_pad / cuda::kVTokens > 0x7fffffff) cuda::unsupported("too many tokens for quantize_v");
  // Token lanes: as many as the channel groups leave threads for, a power of
  // two, at most one 8-position run each.
  auto token_lanes = [](int64_t groups) {
    int tl = 1;
    while (groups <= cuda::kColThreads && 2 * tl * groups <= cuda::kColThreads &&
           2 * tl <= cuda::kVRunsMax)
      tl *= 2;
    return tl;
  };
  cuda::dispatch_float(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kVec = cuda::kVecOf<T>;
    if (cuda::vector_rows<T>(va.x, va.xb, va.xs, va.xh, va.D)) {
      va.token_lanes = token_lanes(va.slice / kVec);
      cuda::quantize_v_kernel<T, kVec><<<vgrid, cuda::kColThreads, 0, stream>>>(va);
    } else {
      va.token_lanes = token_lanes(va.slice);
      cuda::quantize_v_kernel<T, 1><<<vgrid, cuda::kColThreads, 0, stream>>>(va);
    }
  });
  cuda::check_launch("quantize_v_kernel");
  cuda::end_finite_check(stream);
}

void reorder_vt(const int8_t* src, VtOrder from, int8_t* dst, VtOrder to, int64_t rows,
                int64_t seq_padded, void* stream_ptr) {
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int64_t bytes = rows * seq_padded;
  if (bytes == 0) return;
  if (from == to) {
    INTFA_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes),
                                     cudaMemcpyDeviceToDevice, stream));
    return;
  }
  if (seq_padded % 16 != 0 || !cuda::aligned(src, 16) || !cuda::aligned(dst, 16))
    cuda::unsupported("reorder_vt needs 16-byte aligned rows (V̂ᵀ padded to 128 tokens)");
  const int64_t groups = bytes / 16;
  const int64_t blocks = (groups + 255) / 256;
  if (blocks > 0x7fffffff) cuda::unsupported("V̂ᵀ too large for reorder_vt");
  const auto* s = reinterpret_cast<const uint4*>(src);
  auto* d = reinterpret_cast<uint4*>(dst);
  if (to == VtOrder::interleaved16)
    cuda::reorder_vt_kernel<true><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(s, d, groups);
  else
    cuda::reorder_vt_kernel<false><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(s, d, groups);
  cuda::check_launch("reorder_vt_kernel");
}

}  // namespace intfa::cuda_backend
