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
#include <algorithm>
#include <string>
#include <type_traits>

#include "core/backend_dispatch.hpp"
#include "quantize_tiles.cuh"

namespace intfa::cuda {
namespace {

using namespace quant;

// One launch per step: grids of the tiles of quantize_tiles.cuh.
template <typename TIn, int kVec, bool kDot>
__global__ void __launch_bounds__(kRowThreads) quantize_rows_kernel(const RowArgs a) {
  const uint64_t normal = l2_policy<L2Priority::normal>();
  quantize_rows_tile<TIn, kVec, kDot>(a, blockIdx.x, normal, normal, [] {});
}

template <typename TIn>
void launch_rows_t(RowArgs a, cudaStream_t stream) {
  constexpr int kVec = kVecOf<TIn>;
  const bool vec = configure_rows<TIn>(a);
  const int64_t blocks = a.row_tiles * a.B * a.H;
  if (blocks == 0) return;
  const auto kernel = [&](auto dot) {
    constexpr bool kDot = decltype(dot)::value;
    return vec ? quantize_rows_kernel<TIn, kVec, kDot> : quantize_rows_kernel<TIn, 1, kDot>;
  };
  const auto launched = a.lse_offset != nullptr ? kernel(std::true_type{}) : kernel(std::false_type{});
  launched<<<static_cast<unsigned>(blocks), kRowThreads, 0, stream>>>(a);
  check_launch("quantize_rows_kernel");
}

void launch_rows(DType dtype, const RowArgs& a, cudaStream_t stream) {
  dispatch_float(dtype, [&](auto tag) { launch_rows_t<decltype(tag)>(a, stream); });
}

// Grid (splits, B·H).
template <typename TIn, int kVec, bool kSum>
__global__ void __launch_bounds__(kColThreads) column_partials_kernel(const ColumnArgs a) {
  __shared__ std::conditional_t<kSum, double, float> red[kColThreads * kVec];
  column_partials_tile<TIn, kVec, kSum>(a, blockIdx.x, blockIdx.y, red,
                                        l2_policy<L2Priority::normal>());
}

// One block per slice.
__global__ void finish_mean_kernel(const double* partial, int64_t splits, int64_t D, int64_t S,
                                   float* mean) {
  finish_mean_slice(partial, blockIdx.x, splits, D, S, mean);
}
__global__ void finish_amax_kernel(const float* partial, int64_t splits, int64_t D,
                                   bool per_tensor, float* inverse_scale, float* scale) {
  __shared__ float red[kColThreads];
  finish_amax_slice(partial, blockIdx.x, splits, D, per_tensor, inverse_scale, scale, red);
}

// Grid (S_pad / 128, B·H, D / slice).
template <typename TIn, int kVec>
__global__ void __launch_bounds__(kColThreads) quantize_v_kernel(const VArgs a) {
  const uint64_t normal = l2_policy<L2Priority::normal>();
  quantize_v_tile<TIn, kVec>(a, blockIdx.x, blockIdx.y, blockIdx.z, normal, normal, [] {});
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

}  // namespace
}  // namespace intfa::cuda

namespace intfa::cuda_backend {

using namespace cuda::quant;

void channel_mean(const TensorView& k, float* mean, void* stream_ptr) {
  check_dim(k);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  cuda::ColumnLaunch c = cuda::column_launch<true>(k);
  ColumnArgs& a = c.args;
  StreamScratch partial(static_cast<size_t>(k.batch * k.heads * a.splits * k.dim) * 8, stream);
  a.partial = partial.get();
  a.slot = cuda::begin_finite_check("K", k.seq, k.heads, stream);
  cuda::launch_column_partials(c, stream);
  cuda::finish_mean_kernel<<<static_cast<unsigned>(k.batch * k.heads), kColThreads, 0, stream>>>(
      static_cast<const double*>(a.partial), a.splits, k.dim, k.seq, mean);
  cuda::check_launch("finish_mean_kernel");
  cuda::end_finite_check(stream);
}

void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale, void* stream_ptr) {
  check_dim(x);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  RowArgs a = row_args(x, out, scale);
  a.mean = mean;
  a.mean_heads = x.heads, a.mean_ratio = 1;
  a.subtract_mean = mean != nullptr;
  a.slot = cuda::begin_finite_check(mean ? "K" : "input", x.seq, x.heads, stream);
  cuda::launch_rows(x.dtype, a, stream);
  cuda::end_finite_check(stream);
}

void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset, void* stream_ptr) {
  check_dim(q);
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  RowArgs a = q_row_args(q, out, scale, k_mean, kv_heads, lse_offset);
  a.slot = cuda::begin_finite_check("Q", q.seq, q.heads, stream);
  cuda::launch_rows(q.dtype, a, stream);
  cuda::end_finite_check(stream);
}

void quantize_v(const TensorView& v, VFormat format, VtOrder order, int8_t* vt, float* scale,
                void* stream_ptr) {
  check_dim(v);
  if (reinterpret_cast<uintptr_t>(vt) % 4 != 0)
    cuda::unsupported("vt must be 4-byte aligned for the CUDA quantize_v (it writes 32-bit words)");
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  const int64_t heads = v.batch * v.heads;
  cuda::ColumnLaunch c = cuda::column_launch<false>(v);
  ColumnArgs& a = c.args;
  StreamScratch scratch(
      static_cast<size_t>(heads * a.splits * v.dim + heads * v.dim) * sizeof(float), stream);
  a.partial = scratch.get();
  float* inverse_scale = static_cast<float*>(scratch.get()) + heads * a.splits * v.dim;
  a.slot = cuda::begin_finite_check("V", v.seq, v.heads, stream);
  cuda::launch_column_partials(c, stream);
  cuda::finish_amax_kernel<<<static_cast<unsigned>(heads), kColThreads, 0, stream>>>(
      static_cast<const float*>(a.partial), a.splits, v.dim,
      format == VFormat::int8_per_tensor, inverse_scale, scale);
  cuda::check_launch("finish_amax_kernel");
  VArgs va = v_args(v, order, vt, inverse_scale);
  const dim3 vgrid(static_cast<unsigned>(va.S_pad / kVTokens), static_cast<unsigned>(heads),
                   static_cast<unsigned>(va.D / va.slice));
  dispatch_float(v.dtype, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kVec = kVecOf<T>;
    if (vector_rows<T>(va.x, va.xb, va.xs, va.xh, va.D)) {
      va.token_lanes = v_token_lanes(va.slice / kVec);
      cuda::quantize_v_kernel<T, kVec><<<vgrid, kColThreads, 0, stream>>>(va);
    } else {
      va.token_lanes = v_token_lanes(va.slice);
      cuda::quantize_v_kernel<T, 1><<<vgrid, kColThreads, 0, stream>>>(va);
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
  if (seq_padded % 16 != 0 || !aligned(src, 16) || !aligned(dst, 16))
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
