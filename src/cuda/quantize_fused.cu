// The whole quantization of Q, K and V in one persistent launch, reading K
// and V from DRAM once.
//
// Why: K's channel mean and V's channel amax are reductions over all tokens
// of a (batch, KV head) slice, so the separate kernels of quantize.cu read K
// and V twice (reduction, then codes): 7.0 GB at D = 256, S = 16k, B = 4,
// H = 32, where 4.9 GB is the floor (docs/PERF.md, eighteenth session). One
// slice is 4–8 MB there, the H100's L2 50 MB; if the second read of a slice
// follows its first closely enough, it hits L2.
//
// How: the work is a queue of tiles (quantize_tiles.cuh) in a fixed order
// that CTAs take with one atomic counter. Slices are processed in groups of
// `group_slices`; the queue holds, for g = 0, 1, ...:
//     reduce tiles of group g (K's sum splits, V's amax splits),
//     apply tiles of group g − 1 (K̂ rows, V̂ᵀ blocks, Q̂ rows of its heads),
// so a slice's apply tiles come one group after its reduce tiles: its
// reduction has finished by then (no wait) while its lines are still in L2.
// The first read uses the L2 policy evict_last, all other traffic
// evict_first, so that L2 keeps what will be read again.
//
// The reductions are deterministic: each split writes its partial row; the
// last of kFanIn splits to arrive (an atomic counter per fan-in group) sums
// their rows in order into a level-1 row, and the last level-1 group to
// arrive sums those in order and finishes the slice (mean, or V's scales),
// then sets the slice's ready flag (release). An apply tile polls that flag
// (acquire) before it reads the mean or the inverse scales, through L2.
//
// Progress without co-residency: a tile waits only for tiles earlier in the
// queue. The earliest unfinished tile was taken by a running CTA (CTAs take
// tiles in queue order, one at a time, prefetching the index of the next),
// and everything it waits for is finished, so it finishes: the launch
// completes for any grid size and alongside any other work on the GPU.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "core/backend_dispatch.hpp"
#include "quantize_tiles.cuh"

namespace intfa::cuda {
namespace {

using namespace quant;

constexpr int kFanIn = 16;  // partial rows summed by one arrival (both levels' width)

struct FusedArgs {
  RowArgs k_rows, q_rows;
  ColumnArgs k_col, v_col;  // partial: level-0 rows [slices, splits, D]
  VArgs v;
  double* k_level1 = nullptr;  // [slices, k_groups1, D]
  float* v_level1 = nullptr;   // [slices, v_groups1, D]
  float* k_mean = nullptr;     // [slices, D]
  float* v_scale = nullptr;    // [slices, D]
  float* v_inverse = nullptr;  // [slices, D] (= v.inverse_scale)
  bool v_per_tensor = false;
  int64_t slices = 0;        // B · Hk
  int64_t group_slices = 1;  // slices per group
  int64_t groups = 0;
  int k_reduce = 0, v_reduce = 0;              // splits per slice (0: no reduction)
  int k_apply = 0, v_apply = 0, q_apply = 0;   // apply tiles per slice
  int v_zslices = 1;                           // channel slices per 128-token block
  int k_groups1 = 0, v_groups1 = 0;            // ceil(splits / kFanIn)
  unsigned* k_counts = nullptr;  // [slices, k_groups1 + 1]: arrivals per level-1 group, level 2
  unsigned* v_counts = nullptr;  // [slices, v_groups1 + 1]
  uint32_t* ready = nullptr;     // [2, slices]: K's mean, V's scales
  unsigned long long* next = nullptr;  // the queue head
  unsigned long long total = 0;
};

// Sums (or maxes) rows [first, first + count) of a slice's level-0 partials,
// in order, into its level-1 row.
template <bool kSum, typename Acc>
__device__ __forceinline__ void combine_rows(const Acc* rows, int count, int64_t D, Acc* out) {
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    Acc v[kFanIn];
#pragma unroll
    for (int j = 0; j < kFanIn; ++j) v[j] = j < count ? __ldcg(rows + j * D + d) : Acc(0);
    Acc acc = v[0];
#pragma unroll
    for (int j = 1; j < kFanIn; ++j) {
      if constexpr (kSum) acc += v[j];
      else acc = fmaxf(acc, v[j]);
    }
    out[d] = acc;
  }
}

// After a split's partial row is written: count it in; the last arrivals
// combine and finish the slice. Every thread of the CTA calls it.
template <bool kSum>
__device__ __forceinline__ void arrive(const FusedArgs& f, int64_t slice, int split,
                                       unsigned* flag_s, float* red) {
  using Acc = std::conditional_t<kSum, double, float>;
  const ColumnArgs& c = kSum ? f.k_col : f.v_col;
  const int splits = kSum ? f.k_reduce : f.v_reduce;
  const int groups1 = kSum ? f.k_groups1 : f.v_groups1;
  unsigned* counts = (kSum ? f.k_counts : f.v_counts) + slice * (groups1 + 1);
  Acc* level1 = kSum ? reinterpret_cast<Acc*>(f.k_level1) : reinterpret_cast<Acc*>(f.v_level1);
  const int g1 = split / kFanIn;
  const int n1 = min(kFanIn, splits - g1 * kFanIn);
  __syncthreads();  // the partial row is written
  if (threadIdx.x == 0) {
    __threadfence();
    *flag_s = atomicAdd(counts + g1, 1u) == static_cast<unsigned>(n1 - 1);
  }
  __syncthreads();
  if (!*flag_s) return;
  __threadfence();
  combine_rows<kSum>(static_cast<const Acc*>(c.partial) + (slice * splits + g1 * kFanIn) * c.D, n1,
                     c.D, level1 + (slice * groups1 + g1) * c.D);
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    *flag_s = atomicAdd(counts + groups1, 1u) == static_cast<unsigned>(groups1 - 1);
  }
  __syncthreads();
  if (!*flag_s) return;
  __threadfence();
  if constexpr (kSum) {
    finish_mean_slice(f.k_level1, slice, groups1, c.D, c.S, f.k_mean);
  } else {
    finish_amax_slice(f.v_level1, slice, groups1, c.D, f.v_per_tensor, f.v_inverse, f.v_scale,
                      red);
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    st_release_gpu(f.ready + (kSum ? 0 : f.slices) + slice, 1u);
  }
}

// Every thread polls the flag itself (a warp's lanes share one L2 request),
// after issuing its tile's input loads: no barrier, and the poll's latency
// overlaps theirs.
struct ReadyWait {
  const uint32_t* flag;
  __device__ __forceinline__ void operator()() const {
    while (ld_acquire_gpu(flag) == 0) __nanosleep(32);
  }
};
struct NoWait {
  __device__ __forceinline__ void operator()() const {}
};

// A queue position decoded: which tile of which slice.
enum class TileKind { none, k_reduce, v_reduce, k_rows, v_block, q_rows };
struct Tile {
  TileKind kind = TileKind::none;
  int64_t slice = 0;
  unsigned index = 0;  // split (reduce), or the tile within the slice's kind
};

__device__ __forceinline__ Tile decode(const FusedArgs& f, unsigned long long item) {
  // Per-group counts fit 31 bits (the launch checks): 32-bit divisions except
  // the unit index.
  const unsigned reduce_per_slice = static_cast<unsigned>(f.k_reduce + f.v_reduce);
  const unsigned apply_per_slice = static_cast<unsigned>(f.k_apply + f.v_apply + f.q_apply);
  const unsigned R = static_cast<unsigned>(f.group_slices) * reduce_per_slice;
  const unsigned P = static_cast<unsigned>(f.group_slices) * apply_per_slice;
  Tile tile;
  if (item >= f.total) return tile;
  int64_t group;
  unsigned r;
  bool reduce;
  if (item < R) {
    group = 0, r = static_cast<unsigned>(item), reduce = true;
  } else {
    const unsigned long long q = item - R;
    const int64_t unit = 1 + static_cast<int64_t>(q / (R + P));
    r = static_cast<unsigned>(q - static_cast<unsigned long long>(unit - 1) * (R + P));
    reduce = unit < f.groups && r < R;
    group = reduce ? unit : unit - 1;
    if (!reduce && unit < f.groups) r -= R;
  }
  const unsigned per_slice = reduce ? reduce_per_slice : apply_per_slice;
  tile.slice = group * f.group_slices + r / per_slice;
  if (tile.slice >= f.slices) return tile;  // padding of the last group
  unsigned t = r % per_slice;
  if (reduce) {
    const bool k = t < static_cast<unsigned>(f.k_reduce);
    tile.kind = k ? TileKind::k_reduce : TileKind::v_reduce;
    tile.index = k ? t : t - f.k_reduce;
  } else if (t < static_cast<unsigned>(f.k_apply)) {
    tile.kind = TileKind::k_rows, tile.index = t;
  } else if ((t -= f.k_apply) < static_cast<unsigned>(f.v_apply)) {
    tile.kind = TileKind::v_block, tile.index = t;
  } else {
    tile.kind = TileKind::q_rows, tile.index = t - f.v_apply;
  }
  return tile;
}

// Asks L2 for the input rows of `tile` (one row per thread, at most 256),
// so that they arrive while the CTA works on the current tile: in-flight
// bytes that hold no registers. Reduce inputs are kept (read again by the
// slice's apply tiles), the rest marked evict_first.
template <typename TIn>
__device__ __forceinline__ void prefetch_tile(const FusedArgs& f, const Tile& tile,
                                              uint64_t keep, uint64_t drop) {
  const void* x = nullptr;
  int64_t xb = 0, xs = 0, xh = 0, H = 1, S = 0, first = 0, rows = 0, offset = 0, bytes = 0;
  int64_t head = tile.slice;
  auto from = [&](const auto& a) { x = a.x, xb = a.xb, xs = a.xs, xh = a.xh, H = a.H, S = a.S; };
  switch (tile.kind) {
    case TileKind::none: return;
    case TileKind::k_reduce:
    case TileKind::v_reduce: {
      const ColumnArgs& c = tile.kind == TileKind::k_reduce ? f.k_col : f.v_col;
      from(c);
      first = tile.index * c.tokens_per_split, rows = c.tokens_per_split, bytes = c.D;
      break;
    }
    case TileKind::k_rows:
    case TileKind::q_rows: {
      const RowArgs& a = tile.kind == TileKind::k_rows ? f.k_rows : f.q_rows;
      from(a);
      const int64_t per_tile = (kRowThreads >> a.lanes_log2) * kRowsPerGroup;
      const int64_t t = (tile.kind == TileKind::k_rows ? tile.slice * f.k_apply
                                                       : tile.slice * f.q_apply) + tile.index;
      head = t / a.row_tiles;
      first = (t % a.row_tiles) * per_tile, rows = per_tile, bytes = a.D;
      break;
    }
    case TileKind::v_block:
      from(f.v);
      first = (tile.index / f.v_zslices) * kVTokens, rows = kVTokens;
      offset = (tile.index % f.v_zslices) * f.v.slice, bytes = f.v.slice;
      break;
  }
  const int64_t s = first + threadIdx.x;
  if (threadIdx.x >= rows || s >= S) return;
  const int64_t b = head / H, h = head % H;
  const TIn* row = static_cast<const TIn*>(x) + b * xb + h * xh + s * xs + offset;
  const uint64_t policy =
      tile.kind == TileKind::k_reduce || tile.kind == TileKind::v_reduce ? keep : drop;
  prefetch_l2(row, static_cast<uint32_t>(bytes * sizeof(TIn)), policy);
}

// kSmooth: K has a channel-mean reduction, K̂ subtracts it, Q̂ computes
// lse_offset with it. 256 threads; kMinCtas bounds the registers (2: 128).
// Each CTA holds three queue positions: the tile it works on, the next one
// (whose rows it prefetches into L2 first) and the one after (being fetched
// from the queue head).
template <typename TIn, bool kSmooth, int kMinCtas>
__global__ void __launch_bounds__(kColThreads, kMinCtas) fused_quantize_kernel(const FusedArgs f) {
  constexpr int kVec = kVecOf<TIn>;
  __shared__ double red[kColThreads * kVec];  // column tiles (double or float), amax finish
  __shared__ unsigned long long items_s[2];   // current, next
  __shared__ unsigned flag_s;
  const uint64_t keep = l2_policy<L2Priority::last>();
  const uint64_t drop = l2_policy<L2Priority::first>();
  unsigned long long after = 0;  // thread 0: the position after next
  if (threadIdx.x == 0) {
    items_s[0] = atomicAdd(f.next, 1ull);
    items_s[1] = atomicAdd(f.next, 1ull);
  }
  __syncthreads();
  for (;;) {
    const unsigned long long item = items_s[0];
    if (item >= f.total) break;
    if (threadIdx.x == 0) after = atomicAdd(f.next, 1ull);
    prefetch_tile<TIn>(f, decode(f, items_s[1]), keep, drop);
    const Tile tile = decode(f, item);
    const int64_t slice = tile.slice;
    const ReadyWait k_ready{f.ready + slice}, v_ready{f.ready + f.slices + slice};
    switch (tile.kind) {
      case TileKind::none: break;
      case TileKind::k_reduce:
        if constexpr (kSmooth) {
          column_partials_tile<TIn, kVec, true>(f.k_col, tile.index, slice, red, keep);
          arrive<true>(f, slice, tile.index, &flag_s, reinterpret_cast<float*>(red));
        }
        break;
      case TileKind::v_reduce:
        column_partials_tile<TIn, kVec, false>(f.v_col, tile.index, slice,
                                               reinterpret_cast<float*>(red), keep);
        arrive<false>(f, slice, tile.index, &flag_s, reinterpret_cast<float*>(red));
        break;
      case TileKind::k_rows: {
        const unsigned t = static_cast<unsigned>(slice * f.k_apply + tile.index);
        if constexpr (kSmooth) quantize_rows_tile<TIn, kVec, false>(f.k_rows, t, drop, drop, k_ready);
        else quantize_rows_tile<TIn, kVec, false>(f.k_rows, t, drop, drop, NoWait{});
        break;
      }
      case TileKind::v_block:
        quantize_v_tile<TIn, kVec>(f.v, tile.index / f.v_zslices, slice, tile.index % f.v_zslices,
                                   drop, drop, v_ready);
        break;
      case TileKind::q_rows: {
        const unsigned t = static_cast<unsigned>(slice * f.q_apply + tile.index);
        if constexpr (kSmooth) quantize_rows_tile<TIn, kVec, true>(f.q_rows, t, drop, drop, k_ready);
        else quantize_rows_tile<TIn, kVec, false>(f.q_rows, t, drop, drop, NoWait{});
        break;
      }
    }
    __syncthreads();  // every thread has read items_s and left the tile
    if (threadIdx.x == 0) items_s[0] = items_s[1], items_s[1] = after;
    __syncthreads();
  }
}

int env_int(const char* name, int fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (*end != '\0' || v < 0 || v > 1 << 20)
    unsupported(std::string(name) + " must be a non-negative integer (got '" + s + "')");
  return static_cast<int>(v);
}

// Tokens per reduction split: whole rounds of the column tile (kColUnroll
// tokens per token lane) of about kSplitBytes, so a split's loads are a few
// rounds in flight and a slice has few enough partial rows.
constexpr int64_t kSplitBytes = 32 << 10;
int64_t split_tokens(int64_t D, int64_t elem_bytes, int vec) {
  const int64_t G = D / vec;
  const int64_t round = kColUnroll * (kColThreads / G);
  const int64_t want = std::max<int64_t>(1, kSplitBytes / (D * elem_bytes) / round);
  return want * round;
}

template <typename TIn>
bool launch_fused(const cuda_backend::FusedQuantize& in, cudaStream_t stream) {
  constexpr int kVec = kVecOf<TIn>;
  const TensorView &q = in.q, &k = in.k, &v = in.v;
  const bool smooth = in.k_mean != nullptr;
  FusedArgs f;
  f.k_rows = row_args(k, in.k8, in.k_scale);
  f.k_rows.mean = in.k_mean;
  f.k_rows.mean_heads = k.heads, f.k_rows.mean_ratio = 1;
  f.k_rows.subtract_mean = smooth;
  f.q_rows = q_row_args(q, in.q8, in.q_scale, in.k_mean, k.heads, in.lse_offset);
  if (!configure_rows<TIn>(f.k_rows) || !configure_rows<TIn>(f.q_rows)) return false;
  if (!vector_rows<TIn>(v.data, v.stride_batch, v.stride_seq, v.stride_head, v.dim)) return false;
  if (reinterpret_cast<uintptr_t>(in.vt) % 4 != 0) return false;

  const int64_t slices = k.batch * k.heads, D = k.dim, S = k.seq;
  const int64_t elem = sizeof(TIn);
  f.slices = slices;
  auto column = [&](const TensorView& x) {
    ColumnArgs c;
    c.x = x.data;
    c.xb = x.stride_batch, c.xs = x.stride_seq, c.xh = x.stride_head;
    c.B = x.batch, c.S = x.seq, c.H = x.heads, c.D = x.dim;
    c.tokens_per_split = split_tokens(D, elem, kVec);
    c.splits = (S + c.tokens_per_split - 1) / c.tokens_per_split;
    return c;
  };
  f.v_col = column(v);
  f.v_reduce = static_cast<int>(f.v_col.splits);
  if (smooth) {
    f.k_col = column(k);
    f.k_reduce = static_cast<int>(f.k_col.splits);
  }
  f.k_groups1 = (f.k_reduce + kFanIn - 1) / kFanIn;
  f.v_groups1 = (f.v_reduce + kFanIn - 1) / kFanIn;
  f.k_apply = static_cast<int>(f.k_rows.row_tiles);
  f.q_apply = static_cast<int>(f.q_rows.row_tiles * (q.heads / k.heads));
  f.v = v_args(v, in.vt_order, in.vt, nullptr);
  f.v.token_lanes = v_token_lanes(f.v.slice / kVec);
  f.v_zslices = static_cast<int>(D / f.v.slice);
  f.v_apply = static_cast<int>(f.v.S_pad / kVTokens) * f.v_zslices;
  f.v_per_tensor = in.v_format == VFormat::int8_per_tensor;
  f.v_scale = in.v_scale;
  if (static_cast<int64_t>(f.k_reduce) + f.v_reduce + f.k_apply + f.v_apply + f.q_apply >
      0x3fffffff)
    return false;

  // Groups: the reduced bytes of a group (K and V) at least INTFA_QUANT_GROUP_MB.
  const int64_t group_bytes = int64_t{env_int("INTFA_QUANT_GROUP_MB", 12)} << 20;
  const int64_t slice_bytes = (smooth ? 2 : 1) * S * D * elem;
  f.group_slices = std::clamp<int64_t>((group_bytes + slice_bytes - 1) / std::max<int64_t>(slice_bytes, 1),
                                       1, slices);
  f.groups = (slices + f.group_slices - 1) / f.group_slices;
  const int64_t per_group = f.group_slices * (f.k_reduce + f.v_reduce + f.k_apply + f.v_apply +
                                              f.q_apply);
  if (per_group > 0x7fffffff) return false;
  f.total = static_cast<unsigned long long>(f.groups * per_group);

  // Scratch: partial rows, level-1 rows, mean is the caller's, inverse scales,
  // counters and flags (zeroed), the queue head.
  auto round_up = [](int64_t bytes) { return (bytes + 255) / 256 * 256; };
  const int64_t b_kp = round_up(slices * f.k_reduce * D * 8);
  const int64_t b_k1 = round_up(slices * f.k_groups1 * D * 8);
  const int64_t b_vp = round_up(slices * f.v_reduce * D * 4);
  const int64_t b_v1 = round_up(slices * f.v_groups1 * D * 4);
  const int64_t b_inv = round_up(slices * D * 4);
  const int64_t b_counts =
      round_up((slices * (f.k_groups1 + 1) + slices * (f.v_groups1 + 1) + 2 * slices) * 4 + 8);
  StreamScratch scratch(static_cast<size_t>(b_kp + b_k1 + b_vp + b_v1 + b_inv + b_counts), stream);
  char* base = static_cast<char*>(scratch.get());
  f.k_col.partial = base;
  f.k_level1 = reinterpret_cast<double*>(base + b_kp);
  f.v_col.partial = base + b_kp + b_k1;
  f.v_level1 = reinterpret_cast<float*>(base + b_kp + b_k1 + b_vp);
  f.v_inverse = reinterpret_cast<float*>(base + b_kp + b_k1 + b_vp + b_v1);
  f.v.inverse_scale = f.v_inverse;
  char* counters = base + b_kp + b_k1 + b_vp + b_v1 + b_inv;
  f.next = reinterpret_cast<unsigned long long*>(counters);
  f.k_counts = reinterpret_cast<unsigned*>(counters + 8);
  f.v_counts = f.k_counts + slices * (f.k_groups1 + 1);
  f.ready = f.v_counts + slices * (f.v_groups1 + 1);
  INTFA_CUDA_CHECK(cudaMemsetAsync(counters, 0, static_cast<size_t>(b_counts), stream));
  f.k_mean = in.k_mean;

  // Registered in the order of the separate entry points (K, Q, V), so the
  // first non-finite operand named is the same.
  f.k_col.slot = f.k_rows.slot = begin_finite_check("K", k.seq, k.heads, stream);
  f.q_rows.slot = begin_finite_check("Q", q.seq, q.heads, stream);
  f.v_col.slot = begin_finite_check("V", v.seq, v.heads, stream);

  // INTFA_QUANT_MIN_CTAS (experiment): the register bound, 2 (128 registers),
  // 3 (85) or 4 (64 registers, spilling).
  const int min_ctas = env_int("INTFA_QUANT_MIN_CTAS", 2);
  auto pick = [&](auto smooth_tag) {
    constexpr bool kS = decltype(smooth_tag)::value;
    return min_ctas >= 4   ? fused_quantize_kernel<TIn, kS, 4>
           : min_ctas == 3 ? fused_quantize_kernel<TIn, kS, 3>
                           : fused_quantize_kernel<TIn, kS, 2>;
  };
  const auto kernel = smooth ? pick(std::true_type{}) : pick(std::false_type{});
  int per_sm = 0;
  INTFA_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &per_sm, reinterpret_cast<const void*>(kernel), kColThreads, 0));
  const int ctas_per_sm = std::clamp(env_int("INTFA_QUANT_CTAS_PER_SM", 8), 1, std::max(per_sm, 1));
  const int64_t ctas = std::min<int64_t>(static_cast<int64_t>(ctas_per_sm) * sm_count(),
                                         static_cast<int64_t>(f.total));
  if (ctas > 0) {
    kernel<<<static_cast<unsigned>(ctas), kColThreads, 0, stream>>>(f);
    check_launch("fused_quantize_kernel");
  }
  for (int i = 0; i < 3; ++i) end_finite_check(stream);
  return true;
}

}  // namespace
}  // namespace intfa::cuda

namespace intfa::cuda_backend {

bool quantize_fused(const FusedQuantize& in, void* stream_ptr) {
  if (cuda::env_int("INTFA_QUANT_FUSED", 1) == 0) return false;
  const TensorView &q = in.q, &k = in.k, &v = in.v;
  if (q.dtype != k.dtype || k.dtype != v.dtype || in.vt == nullptr) return false;
  if ((in.k_mean == nullptr) != (in.lse_offset == nullptr)) return false;
  if (k.dim > cuda::quant::kVMaxDim || k.batch * k.heads == 0 || k.seq == 0 || q.seq == 0)
    return false;
  const auto stream = static_cast<cudaStream_t>(stream_ptr);
  // Inside a deferred scope the three operands' registrations share one
  // check; otherwise this call opens and reads its own.
  const bool own_scope = !cuda::deferred_scope_active();
  if (own_scope) cuda::begin_deferred_scope(stream);
  bool done = false;
  try {
    cuda::quant::dispatch_float(k.dtype, [&](auto tag) {
      done = cuda::launch_fused<decltype(tag)>(in, stream);
    });
  } catch (...) {
    if (own_scope) cuda::end_deferred_scope(stream, false);
    throw;
  }
  if (own_scope) cuda::end_deferred_scope(stream, done);
  return done;
}

}  // namespace intfa::cuda_backend
