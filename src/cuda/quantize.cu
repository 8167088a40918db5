// CUDA quantization: per-token Q and K (optionally K-smoothed, with Q's
// lse_offset), the channel mean of K, V to the token-contiguous V̂ᵀ layout in
// either token order (natural / interleaved16, params.hpp), and the copy of
// V̂ᵀ from one order to the other.
// Same bytes and scales as src/cpu/quantize_cpu.cpp: every rounding is the
// numeric.hpp function the CPU calls. Two sums are computed in another order
// than on the CPU (both in float64, rounded once to fp32 at the end, so they
// differ only when the float64 sums differ across an fp32 rounding boundary):
//   * channel_mean: the CPU sums the tokens in order; here per-thread partial
//     sums over strided tokens, combined in a fixed order (deterministic);
//   * lse_offset = q·mean(K): per-lane partial sums combined by a butterfly.
// Memory-bound: one warp per token row for Q and K (one read, one write);
// V and channel_mean need a reduction over all tokens first (two reads of V,
// one of K for the mean plus the quantization pass).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <string>
#include <type_traits>

#include "common/cuda_check.hpp"
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
};

constexpr int kRowWarps = 8;

// One warp per token row. kVec: lane owns elements [E·lane, E·lane + E) and
// moves them with vector loads (D == 32·E, aligned); else element i·32 + lane.
template <typename TIn, int E, bool kVec>
__global__ void __launch_bounds__(kRowWarps * 32) quantize_rows_kernel(const RowArgs a) {
  const int lane = threadIdx.x & 31;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowWarps + (threadIdx.x >> 5);
  if (row >= a.B * a.S * a.H) return;
  const int64_t h = row % a.H, s = (row / a.H) % a.S, b = row / (a.H * a.S);
  const TIn* src = static_cast<const TIn*>(a.x) + b * a.xb + s * a.xs + h * a.xh;
  const float* mu =
      a.mean ? a.mean + (b * a.mean_heads + h / a.mean_ratio) * a.D : nullptr;
  auto index = [&](int i) -> int { return kVec ? lane * E + i : i * 32 + lane; };

  float v[E];
  if constexpr (kVec) {
    const Vec<TIn, E> raw = *reinterpret_cast<const Vec<TIn, E>*>(src + lane * E);
#pragma unroll
    for (int i = 0; i < E; ++i) v[i] = to_float(raw.v[i]);
  } else {
#pragma unroll
    for (int i = 0; i < E; ++i) v[i] = index(i) < a.D ? to_float(src[index(i)]) : 0.f;
  }
  bool bad = false;
#pragma unroll
  for (int i = 0; i < E; ++i) bad |= !is_finite(v[i]);
  if (__any_sync(0xffffffffu, bad)) {
    if (lane == 0) report_nonfinite(a.slot, b, s, h, a.S, a.H);
    return;  // nothing is computed on bad input (the call throws)
  }

  float m[E] = {};
  if (mu != nullptr) {
    if constexpr (kVec) {
      const Vec<float, E> raw = *reinterpret_cast<const Vec<float, E>*>(mu + lane * E);
#pragma unroll
      for (int i = 0; i < E; ++i) m[i] = raw.v[i];
    } else {
#pragma unroll
      for (int i = 0; i < E; ++i) m[i] = index(i) < a.D ? mu[index(i)] : 0.f;
    }
  }
  if (a.lse_offset != nullptr) {
    double dot = 0.0;
#pragma unroll
    for (int i = 0; i < E; ++i) dot += static_cast<double>(v[i]) * static_cast<double>(m[i]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (lane == 0) a.lse_offset[(b * a.H + h) * a.S + s] = static_cast<float>(dot);
  }
  if (a.subtract_mean) {
#pragma unroll
    for (int i = 0; i < E; ++i) v[i] -= m[i];
  }
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < E; ++i) amax = fmaxf(amax, fabsf(v[i]));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float inv = numeric::int8_inverse_scale(amax);
  int8_t* dst = a.out + b * a.ob + s * a.os + h * a.oh;
  if constexpr (kVec) {
    Vec<int8_t, E> q;
#pragma unroll
    for (int i = 0; i < E; ++i) q.v[i] = numeric::quantize_int8(v[i], inv);
    *reinterpret_cast<Vec<int8_t, E>*>(dst + lane * E) = q;
  } else {
#pragma unroll
    for (int i = 0; i < E; ++i)
      if (index(i) < a.D) dst[index(i)] = numeric::quantize_int8(v[i], inv);
  }
  if (lane == 0) a.scale[(b * a.H + h) * a.S + s] = numeric::int8_scale(amax);
}

bool aligned(const void* p, int64_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0;
}

template <typename TIn, int E>
void launch_rows_e(const RowArgs& a, bool vec, cudaStream_t stream) {
  const int64_t rows = a.B * a.S * a.H;
  const int64_t blocks = (rows + kRowWarps - 1) / kRowWarps;
  if (blocks > 0x7fffffff) unsupported("too many token rows for one launch");
  if (vec) {
    quantize_rows_kernel<TIn, E, true><<<blocks, kRowWarps * 32, 0, stream>>>(a);
  } else {
    quantize_rows_kernel<TIn, E, false><<<blocks, kRowWarps * 32, 0, stream>>>(a);
  }
  check_launch("quantize_rows_kernel");
}

template <typename TIn>
void launch_rows_t(const RowArgs& a, cudaStream_t stream) {
  const int64_t D = a.D;
  const int64_t per_lane = (D + 31) / 32;
  // Vector path: D = 32·E and every row start aligned to its vector width.
  const int64_t in_bytes = std::min<int64_t>(16, per_lane * static_cast<int64_t>(sizeof(TIn)));
  const int64_t out_bytes = std::min<int64_t>(16, per_lane);
  const int64_t mean_bytes = std::min<int64_t>(16, per_lane * 4);
  const bool vec = D % 32 == 0 && (per_lane & (per_lane - 1)) == 0 &&
                   aligned(a.x, in_bytes) &&
                   (a.xb * static_cast<int64_t>(sizeof(TIn))) % in_bytes == 0 &&
                   (a.xs * static_cast<int64_t>(sizeof(TIn))) % in_bytes == 0 &&
                   (a.xh * static_cast<int64_t>(sizeof(TIn))) % in_bytes == 0 &&
                   aligned(a.out, out_bytes) && a.ob % out_bytes == 0 && a.os % out_bytes == 0 &&
                   a.oh % out_bytes == 0 && (a.mean == nullptr || aligned(a.mean, mean_bytes));
  if (per_lane <= 1) return launch_rows_e<TIn, 1>(a, vec, stream);
  if (per_lane <= 2) return launch_rows_e<TIn, 2>(a, vec, stream);
  if (per_lane <= 4) return launch_rows_e<TIn, 4>(a, vec, stream);
  if (per_lane <= 8) return launch_rows_e<TIn, 8>(a, vec, stream);
  return launch_rows_e<TIn, 16>(a, vec, stream);
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

// Grid (splits, B·H). Threads = (token lane, column): for D <= 256 there are
// 256 / D token lanes, each thread owns column tid % D; for larger D one lane
// and up to two columns per thread.
template <typename TIn, bool kSum>
__global__ void __launch_bounds__(kColThreads) column_partials_kernel(const ColumnArgs a) {
  using Acc = std::conditional_t<kSum, double, float>;
  __shared__ Acc red[kColThreads];
  const int tid = threadIdx.x;
  const int64_t head = blockIdx.y, b = head / a.H, h = head % a.H;
  const int64_t s0 = blockIdx.x * a.tokens_per_split;
  const int64_t s1 = a.S < s0 + a.tokens_per_split ? a.S : s0 + a.tokens_per_split;
  const int D = static_cast<int>(a.D);
  const int lanes = D <= kColThreads ? kColThreads / D : 1;
  const int lane = D <= kColThreads ? tid / D : 0;
  const int d0 = D <= kColThreads ? tid % D : tid;
  const bool active = lane < lanes && d0 < D;
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  Acc acc[2] = {0, 0};
  bool reported = false;
  if (active) {
    for (int64_t s = s0 + lane; s < s1; s += lanes) {
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int d = d0 + c * kColThreads;
        if (d >= D) break;
        const float x = to_float(base[s * a.xs + d]);
        if (!is_finite(x) && !reported) {
          report_nonfinite(a.slot, b, s, h, a.S, a.H);
          reported = true;
        }
        if constexpr (kSum) acc[c] += static_cast<double>(x);
        else acc[c] = fmaxf(acc[c], fabsf(x));
      }
    }
  }
  Acc* out = static_cast<Acc*>(a.partial) + (head * a.splits + blockIdx.x) * a.D;
  if (D > kColThreads) {  // one lane: no reduction
#pragma unroll
    for (int c = 0; c < 2; ++c)
      if (d0 + c * kColThreads < D) out[d0 + c * kColThreads] = acc[c];
    return;
  }
  red[tid] = active ? acc[0] : Acc(0);
  __syncthreads();
  if (lane == 0 && active) {
    Acc total = acc[0];
    for (int l = 1; l < lanes; ++l) {  // fixed order: deterministic
      if constexpr (kSum) total += red[l * D + d0];
      else total = fmaxf(total, red[l * D + d0]);
    }
    out[d0] = total;
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
// over channels too); writes amax (for the quantization pass) and the scale.
__global__ void finish_amax_kernel(const float* partial, int64_t splits, int64_t D,
                                   bool per_tensor, float* amax_out, float* scale) {
  __shared__ float red[kColThreads];
  const int64_t head = blockIdx.x;
  float all = 0.f;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float m = 0.f;
    for (int64_t k = 0; k < splits; ++k) m = fmaxf(m, partial[(head * splits + k) * D + d]);
    amax_out[head * D + d] = m;
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
    for (int64_t d = threadIdx.x; d < D; d += blockDim.x) amax_out[head * D + d] = all;
  }
  __syncthreads();
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x)
    scale[head * D + d] = numeric::int8_scale(amax_out[head * D + d]);
}

// ---- V̂ᵀ ---------------------------------------------------------------------------------
struct VArgs {
  const void* x = nullptr;
  int64_t xb = 0, xs = 0, xh = 0;
  int64_t B = 0, S = 0, H = 0, D = 0, S_pad = 0;
  const float* amax = nullptr;  // [B·H, D]
  int8_t* vt = nullptr;         // [B, H, D, S_pad]
};

constexpr int kVTokens = 64;                  // tokens per CTA
constexpr int kVWords = kVTokens / 4;         // 32-bit words per channel row
constexpr int kVMaxDim = 512;
static_assert(kVTokens % 16 == 0, "a CTA's tokens must be whole interleaved16 groups");

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

// Grid (S_pad / 64, B·H). Reads 64 tokens x D (coalesced along D), quantizes
// with the channel's inverse scale, transposes through shared memory (rows of
// 17 words: conflict-free) and writes 64 contiguous bytes per channel, zeros
// past S. Word w holds positions 4w..4w+3 of the CTA's 64: in natural order
// tokens 4w..4w+3; in interleaved16 order (w = 4g + a) tokens 16g + 2a,
// 16g + 2a + 1, 16g + 2a + 8, 16g + 2a + 9 — the thread gathers them and still
// writes one word.
template <typename TIn, bool kInterleaved>
__global__ void __launch_bounds__(kColThreads) quantize_v_kernel(const VArgs a) {
  __shared__ uint32_t tile[kVMaxDim * (kVWords + 1)];
  const int64_t head = blockIdx.y, b = head / a.H, h = head % a.H;
  const int64_t s0 = static_cast<int64_t>(blockIdx.x) * kVTokens;
  const int D = static_cast<int>(a.D);
  const TIn* base = static_cast<const TIn*>(a.x) + b * a.xb + h * a.xh;
  const float* amax = a.amax + head * a.D;
  for (int item = threadIdx.x; item < D * kVWords; item += blockDim.x) {
    const int d = item % D, w = item / D;
    const float inv = numeric::int8_inverse_scale(amax[d]);
    uint32_t word = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int pos = 4 * w + i;
      const int64_t s =
          s0 + (kInterleaved ? (pos & ~15) + interleaved_token(pos & 15) : pos);
      int8_t q = 0;
      if (s < a.S) q = numeric::quantize_int8(to_float(base[s * a.xs + d]), inv);
      word |= static_cast<uint32_t>(static_cast<uint8_t>(q)) << (8 * i);
    }
    tile[d * (kVWords + 1) + w] = word;
  }
  __syncthreads();
  int8_t* out = a.vt + head * a.D * a.S_pad + s0;
  for (int item = threadIdx.x; item < D * kVWords; item += blockDim.x) {
    const int d = item / kVWords, w = item % kVWords;
    *reinterpret_cast<uint32_t*>(out + d * a.S_pad + 4 * w) = tile[d * (kVWords + 1) + w];
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

// Token splits for the column reductions: about four CTAs per SM overall.
ColumnArgs column_args(const TensorView& x) {
  ColumnArgs a;
  a.x = x.data;
  a.xb = x.stride_batch, a.xs = x.stride_seq, a.xh = x.stride_head;
  a.B = x.batch, a.S = x.seq, a.H = x.heads, a.D = x.dim;
  const int64_t heads = x.batch * x.heads;
  const int64_t want = (4 * sm_count() + heads - 1) / heads;
  a.splits = std::max<int64_t>(1, std::min<int64_t>({want, (x.seq + 31) / 32, 65535}));
  a.tokens_per_split = (x.seq + a.splits - 1) / a.splits;
  a.splits = (x.seq + a.tokens_per_split - 1) / a.tokens_per_split;
  if (heads > 65535) unsupported("batch · heads must be at most 65535 for the CUDA reductions");
  return a;
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
  cuda::ColumnArgs a = cuda::column_args(k);
  cuda::StreamScratch partial(static_cast<size_t>(k.batch * k.heads * a.splits * k.dim) * 8,
                              stream);
  a.partial = partial.get();
  a.slot = cuda::begin_finite_check("K", k.seq, k.heads, stream);
  const dim3 grid(static_cast<unsigned>(a.splits), static_cast<unsigned>(k.batch * k.heads));
  cuda::dispatch_float(k.dtype, [&](auto tag) {
    cuda::column_partials_kernel<decltype(tag), true><<<grid, cuda::kColThreads, 0, stream>>>(a);
  });
  cuda::check_launch("column_partials_kernel");
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
  cuda::ColumnArgs a = cuda::column_args(v);
  cuda::StreamScratch scratch(
      static_cast<size_t>(heads * a.splits * v.dim + heads * v.dim) * sizeof(float), stream);
  a.partial = scratch.get();
  float* amax = static_cast<float*>(scratch.get()) + heads * a.splits * v.dim;
  a.slot = cuda::begin_finite_check("V", v.seq, v.heads, stream);
  const dim3 grid(static_cast<unsigned>(a.splits), static_cast<unsigned>(heads));
  cuda::dispatch_float(v.dtype, [&](auto tag) {
    cuda::column_partials_kernel<decltype(tag), false><<<grid, cuda::kColThreads, 0, stream>>>(a);
  });
  cuda::check_launch("column_partials_kernel");
  cuda::finish_amax_kernel<<<static_cast<unsigned>(heads), cuda::kColThreads, 0, stream>>>(
      static_cast<const float*>(a.partial), a.splits, v.dim,
      format == VFormat::int8_per_tensor, amax, scale);
  cuda::check_launch("finish_amax_kernel");
  cuda::VArgs va;
  va.x = v.data;
  va.xb = v.stride_batch, va.xs = v.stride_seq, va.xh = v.stride_head;
  va.B = v.batch, va.S = v.seq, va.H = v.heads, va.D = v.dim;
  va.S_pad = padded_kv_length(v.seq);
  va.amax = amax;
  va.vt = vt;
  const dim3 vgrid(static_cast<unsigned>(va.S_pad / cuda::kVTokens), static_cast<unsigned>(heads));
  if (va.S_pad / cuda::kVTokens > 0x7fffffff) cuda::unsupported("too many tokens for quantize_v");
  cuda::dispatch_float(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    if (order == VtOrder::interleaved16)
      cuda::quantize_v_kernel<T, true><<<vgrid, cuda::kColThreads, 0, stream>>>(va);
    else
      cuda::quantize_v_kernel<T, false><<<vgrid, cuda::kColThreads, 0, stream>>>(va);
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
