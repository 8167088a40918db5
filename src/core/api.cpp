// The public C++ API: validation, back-end resolution, and the one-call
// attention that quantizes with a recipe and then runs the quantized kernel.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/api_internal.hpp"
#include "core/backend_dispatch.hpp"
#include "core/validate.hpp"
#include "cpu/cpu_backend.hpp"
#include "intfa/intfa.hpp"

#ifndef INTFA_VERSION
#define INTFA_VERSION "0.0.0"
#endif

namespace intfa {

using detail::check_pointer;
using detail::check_tensor;
using detail::fail;

const char* version() { return INTFA_VERSION; }

bool cuda_available() { return cuda_backend::available(); }

Backend resolve_backend(Backend requested, const void* ptr) {
  switch (requested) {
    case Backend::cpu:
      if (cuda_backend::is_device_pointer(ptr))
        fail("the CPU back-end needs host memory, but the inputs are CUDA device memory");
      return Backend::cpu;
    case Backend::cuda:
      if (!cuda_backend::built()) cuda_backend::check_supported(AttentionParams{});  // throws
      if (!cuda_backend::available())
        throw Error(StatusCode::backend_unavailable,
                    "the CUDA back-end was requested but no CUDA device is visible");
      return Backend::cuda;
    case Backend::automatic:
      return cuda_backend::available() && cuda_backend::is_device_pointer(ptr) ? Backend::cuda
                                                                                : Backend::cpu;
  }
  fail("unknown back-end value " + std::to_string(static_cast<int>(requested)));
}

int32_t default_kv_block(Backend backend, const Recipe& recipe, int64_t head_dim) {
  if (backend == Backend::cuda) return cuda_backend::default_kv_block(recipe, head_dim);
  return cpu::kDefaultKvBlock;
}

const char* vt_order_name(VtOrder order) {
  switch (order) {
    case VtOrder::natural: return "natural";
    case VtOrder::interleaved16: return "interleaved16";
  }
  return "unknown";
}

VtOrder parse_vt_order(std::string_view name) {
  if (name == "natural") return VtOrder::natural;
  if (name == "interleaved16") return VtOrder::interleaved16;
  fail("unknown V̂ᵀ order '" + std::string(name) + "' (expected 'natural' or 'interleaved16')");
}

VtOrder default_vt_order(Backend backend) {
  switch (backend) {
    case Backend::cpu: return VtOrder::natural;
    case Backend::cuda: return cuda_backend::default_vt_order();
    case Backend::automatic: break;
  }
  fail(std::string("default_vt_order needs Backend::cpu or Backend::cuda (got ") +
       (backend == Backend::automatic ? "automatic, which depends on where the data lives"
                                      : "value " + std::to_string(static_cast<int>(backend))) +
       ")");
}

namespace {

constexpr std::initializer_list<DType> kFloatInputs = {DType::f32, DType::f16, DType::bf16};

// Every pointer of one call must live where the back-end computes.
void check_memory(Backend backend, const void* ptr, const char* name) {
  if (ptr == nullptr) return;
  const bool device = cuda_backend::is_device_pointer(ptr);
  if (backend == Backend::cuda && !device)
    fail(std::string(name) + " is host memory, but the CUDA back-end needs device pointers");
  if (backend == Backend::cpu && device)
    fail(std::string(name) + " is CUDA device memory, but the CPU back-end needs host pointers");
}

// Scratch memory on the host or the device, released on scope exit.
class Scratch {
 public:
  Scratch(Backend backend, void* stream) : backend_(backend), stream_(stream) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    for (void* p : device_) cuda_backend::release(p, stream_);
  }
  template <typename T>
  T* get(int64_t count) {
    const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
    if (backend_ == Backend::cuda) {
      device_.push_back(cuda_backend::allocate(bytes, stream_));
      return static_cast<T*>(device_.back());
    }
    host_.emplace_back(new unsigned char[bytes > 0 ? bytes : 1]);
    return reinterpret_cast<T*>(host_.back().get());
  }

 private:
  Backend backend_;
  void* stream_;
  std::vector<std::unique_ptr<unsigned char[]>> host_;
  std::vector<void*> device_;
};

void fill_common(AttentionParams& p, const detail::Shape& s, const TensorView& out, float* lse,
                 const AttentionOptions& opt) {
  p.batch = static_cast<int32_t>(s.batch);
  p.heads = static_cast<int32_t>(s.heads);
  p.kv_heads = static_cast<int32_t>(s.kv_heads);
  p.seqlen_q = static_cast<int32_t>(s.seqlen_q);
  p.seqlen_k = static_cast<int32_t>(s.seqlen_k);
  p.head_dim = static_cast<int32_t>(s.head_dim);
  p.out = out.data;
  p.out_dtype = out.dtype;
  p.o_batch_stride = out.stride_batch;
  p.o_row_stride = out.stride_seq;
  p.o_head_stride = out.stride_head;
  p.lse = lse;
  p.softmax_scale = detail::resolve_softmax_scale(opt, s.head_dim);
  p.score_scale_log2 = static_cast<float>(static_cast<double>(p.softmax_scale) * M_LOG2E);
  p.causal = opt.causal;
  p.recipe = opt.recipe;
  p.stream = opt.stream;
}

void set_qk(AttentionParams& p, const TensorView& q, const TensorView& k) {
  p.q = q.data;
  p.q_batch_stride = q.stride_batch, p.q_row_stride = q.stride_seq, p.q_head_stride = q.stride_head;
  p.k = k.data;
  p.k_batch_stride = k.stride_batch, p.k_row_stride = k.stride_seq, p.k_head_stride = k.stride_head;
  p.qk_dtype = q.dtype;
}

void set_float_v(AttentionParams& p, const TensorView& v) {
  p.v = v.data;
  p.v_dtype = v.dtype;
  p.v_batch_stride = v.stride_batch, p.v_row_stride = v.stride_seq, p.v_head_stride = v.stride_head;
}

void set_int8_v(AttentionParams& p, const int8_t* vt) {
  p.v = vt;
  p.v_dtype = DType::i8;
  p.v_seq_padded = padded_kv_length(p.seqlen_k);
  p.v_row_stride = p.v_seq_padded;                   // between channels
  p.v_head_stride = p.head_dim * p.v_seq_padded;      // [B, Hk, D, Sk_pad]
  p.v_batch_stride = p.kv_heads * p.v_head_stride;
}

void check_vt_order(VtOrder order, const char* name) {
  if (order != VtOrder::natural && order != VtOrder::interleaved16)
    fail(std::string(name) + " has an unknown V̂ᵀ order value " +
         std::to_string(static_cast<int>(order)) + " (natural = 0, interleaved16 = 1)");
}

// The views quantize() returns for `buf` (nothing is computed; int8-V and
// smooth-k parts only when the recipe has them).
QuantizedInputs quantized_views(const detail::Shape& s, const Recipe& recipe,
                                const QuantizedBuffers& buf) {
  QuantizedInputs in;
  in.recipe = recipe;
  in.q = TensorView::bshd(buf.q8, DType::i8, s.batch, s.seqlen_q, s.heads, s.head_dim);
  in.k = TensorView::bshd(buf.k8, DType::i8, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  in.q_scale = buf.q_scale;
  in.k_scale = buf.k_scale;
  in.lse_offset = recipe.smooth_k ? buf.lse_offset : nullptr;
  if (recipe.int8_v()) {
    in.vt = buf.vt;
    in.v_scale = buf.v_scale;
  }
  return in;
}

// When the kernel that will run `p` does not read int8 V̂ᵀ in p's order,
// points p at a copy in the order it reads. The CPU reads natural only. On
// CUDA, interleaved16 V̂ᵀ runs on the Hopper kernel when vt_order_for says a
// Hopper kernel runs these params, else it goes to natural for the mma.sync
// kernel; natural V̂ᵀ stays natural (the mma.sync kernel runs it) unless that
// kernel has no instantiation for the key block and the Hopper kernel has
// (intfa at D = 256 with kv_block 128).
void reorder_vt_for_kernel(Backend backend, AttentionParams& p, Scratch& scratch) {
  if (p.v_dtype != DType::i8) return;
  VtOrder want = VtOrder::natural;
  if (backend == Backend::cuda) {
    const VtOrder fastest = cuda_backend::vt_order_for(p);
    want = p.v_token_order == VtOrder::interleaved16 || !cuda_backend::mma_sync_has_kernel(p)
               ? fastest
               : VtOrder::natural;
  }
  if (want == p.v_token_order) return;
  const int64_t rows = static_cast<int64_t>(p.batch) * p.kv_heads * p.head_dim;
  int8_t* copy = scratch.get<int8_t>(rows * p.v_seq_padded);
  const auto* src = static_cast<const int8_t*>(p.v);
  if (backend == Backend::cuda)
    cuda_backend::reorder_vt(src, p.v_token_order, copy, want, rows, p.v_seq_padded, p.stream);
  else
    cpu::reorder_vt(src, p.v_token_order, copy, want, rows, p.v_seq_padded);
  p.v = copy;  // same contiguous [B, Hk, D, Sk_pad] strides
  p.v_token_order = want;
}

void check_kv_block(int32_t kv_block) {
  if (kv_block < 0 || kv_block > 4096)
    fail("kv_block must be 0 (back-end default) or in 1..4096 (got " + std::to_string(kv_block) +
         ")");
}

void run(Backend backend, AttentionParams& p, Scratch& scratch) {
  if (p.kv_block == 0) p.kv_block = default_kv_block(backend, p.recipe, p.head_dim);
  reorder_vt_for_kernel(backend, p, scratch);
  if (backend == Backend::cuda) {
    cuda_backend::check_supported(p);
    cuda_backend::attention(p);
  } else {
    detail::check_head_dim_cpu(p.head_dim);
    cpu::attention_tiled(p);
  }
}

}  // namespace

namespace detail {

AttentionParams build_params(const QuantizedInputs& in, const TensorView& out, float* lse,
                             const AttentionOptions& opt, Backend backend, const Shape& shape,
                             std::vector<float>& unit_scales) {
  AttentionParams p;
  fill_common(p, shape, out, lse, opt);
  p.kv_block = opt.kv_block;
  if (p.kv_block == 0) p.kv_block = default_kv_block(backend, p.recipe, p.head_dim);
  set_qk(p, in.q, in.k);
  p.q_scale = in.q_scale;
  p.k_scale = in.k_scale;
  p.lse_offset = in.lse_offset;
  if (in.recipe.int8_v()) {
    set_int8_v(p, in.vt);
    p.v_token_order = in.vt_order;
    p.v_scale = in.v_scale;
  } else {
    set_float_v(p, in.v);
    if (backend == Backend::cpu) {
      unit_scales.assign(static_cast<size_t>(shape.batch * shape.kv_heads * shape.head_dim), 1.f);
      p.v_scale = unit_scales.data();
    }
  }
  return p;
}

AttentionParams float_operand_params(const TensorView& q, const TensorView& k, const TensorView& v,
                                     const TensorView& out, float* lse,
                                     const AttentionOptions& opt, const Shape& shape) {
  AttentionParams p;
  fill_common(p, shape, out, lse, opt);
  p.kv_block = opt.kv_block;
  set_qk(p, q, k);
  set_float_v(p, v);
  return p;
}

}  // namespace detail

// ---- quantization -------------------------------------------------------------
void channel_mean(const TensorView& k, float* mean, const QuantizeOptions& opt) {
  check_tensor(k, "k", kFloatInputs);
  check_pointer(mean, "mean");
  const Backend backend = resolve_backend(opt.backend, k.data);
  check_memory(backend, mean, "mean");
  if (backend == Backend::cuda) return cuda_backend::channel_mean(k, mean, opt.stream);
  cpu::channel_mean(k, mean);
}

void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale, const QuantizeOptions& opt) {
  check_tensor(x, "x", kFloatInputs);
  check_tensor(out, "out", {DType::i8});
  check_pointer(scale, "scale");
  if (out.batch != x.batch || out.seq != x.seq || out.heads != x.heads || out.dim != x.dim)
    fail("out " + detail::shape_string(out) + " must have the shape of x " +
         detail::shape_string(x));
  const Backend backend = resolve_backend(opt.backend, x.data);
  for (auto [ptr, name] : {std::pair<const void*, const char*>{out.data, "out"},
                           {scale, "scale"}, {mean, "mean"}})
    check_memory(backend, ptr, name);
  if (backend == Backend::cuda)
    return cuda_backend::quantize_per_token(x, mean, out, scale, opt.stream);
  cpu::quantize_per_token(x, mean, out, scale);
}

void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset, const QuantizeOptions& opt) {
  check_tensor(q, "q", kFloatInputs);
  check_tensor(out, "out", {DType::i8});
  check_pointer(scale, "scale");
  if (out.batch != q.batch || out.seq != q.seq || out.heads != q.heads || out.dim != q.dim)
    fail("out " + detail::shape_string(out) + " must have the shape of q " +
         detail::shape_string(q));
  if (k_mean) {
    if (kv_heads < 1 || q.heads % kv_heads != 0)
      fail("query heads (" + std::to_string(q.heads) + ") must be a multiple of KV heads (" +
           std::to_string(kv_heads) + ")");
    check_pointer(lse_offset, "lse_offset");
  }
  const Backend backend = resolve_backend(opt.backend, q.data);
  for (auto [ptr, name] : {std::pair<const void*, const char*>{out.data, "out"},
                           {scale, "scale"}, {k_mean, "k_mean"}, {lse_offset, "lse_offset"}})
    check_memory(backend, ptr, name);
  if (backend == Backend::cuda)
    return cuda_backend::quantize_q(q, out, scale, k_mean, kv_heads, lse_offset, opt.stream);
  cpu::quantize_q(q, out, scale, k_mean, kv_heads, lse_offset);
}

VtOrder quantize_v(const TensorView& v, VFormat format, int8_t* vt, float* scale,
                   const QuantizeOptions& opt) {
  check_tensor(v, "v", kFloatInputs);
  check_pointer(vt, "vt", 1);
  check_pointer(scale, "scale");
  if (format != VFormat::int8_per_tensor && format != VFormat::int8_per_channel)
    fail("quantize_v makes int8 V only (per-tensor or per-channel)");
  if (opt.vt_order) check_vt_order(*opt.vt_order, "QuantizeOptions.vt_order");
  const Backend backend = resolve_backend(opt.backend, v.data);
  check_memory(backend, vt, "vt");
  check_memory(backend, scale, "scale");
  const VtOrder order = opt.vt_order ? *opt.vt_order : default_vt_order(backend);
  if (backend == Backend::cuda)
    cuda_backend::quantize_v(v, format, order, vt, scale, opt.stream);
  else
    cpu::quantize_v(v, format, order, vt, scale);
  return order;
}

QuantizedSizes quantized_sizes(int64_t batch, int64_t heads, int64_t kv_heads, int64_t seqlen_q,
                               int64_t seqlen_k, int64_t head_dim, const Recipe& recipe,
                               DType v_dtype) {
  if (!recipe.int8_qk())
    fail("recipe " + recipe_name(recipe) + " is a float baseline: nothing to quantize");
  QuantizedSizes n;
  n.q8 = batch * seqlen_q * heads * head_dim;
  n.k8 = batch * seqlen_k * kv_heads * head_dim;
  n.q_scale = batch * heads * seqlen_q;
  n.k_scale = batch * kv_heads * seqlen_k;
  if (recipe.smooth_k) {
    n.k_mean = batch * kv_heads * head_dim;
    n.lse_offset = n.q_scale;
  }
  if (recipe.int8_v()) {
    n.vt = batch * kv_heads * head_dim * padded_kv_length(seqlen_k);
    n.v_scale = batch * kv_heads * head_dim;
  } else if (v_dtype == DType::f32) {
    n.v16 = batch * seqlen_k * kv_heads * head_dim;
  }
  return n;
}

QuantizedInputs quantize(const TensorView& q, const TensorView& k, const TensorView& v,
                         const Recipe& recipe, const QuantizedBuffers& buf,
                         const QuantizeOptions& opt) {
  check_tensor(q, "q", kFloatInputs);
  check_tensor(k, "k", kFloatInputs);
  check_tensor(v, "v", kFloatInputs);
  const detail::Shape s = detail::check_attention_shapes(q, k, &v, q);
  const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k,
                                           s.head_dim, recipe, v.dtype);
  const Backend backend = resolve_backend(opt.backend, q.data);
  const QuantizeOptions qopt{backend, opt.stream, opt.vt_order};
  QuantizedInputs in = quantized_views(s, recipe, buf);
  // CUDA: the non-finite checks of every operand are read once, at the end
  // (unless the caller defers them further, as the one-call attention does),
  // and V's chain (column amax, V̂ᵀ) runs on a side stream beside K's and Q's
  // (channel mean, K̂, Q̂): each kernel alone leaves part of the DRAM bandwidth
  // unused (with the single check, 5% less time on the H100; end to end,
  // where the checks were already read once, +1 to +6%: docs/PERF.md,
  // seventeenth session). K's and Q's calls register first, so a NaN in K is
  // still reported before one in V.
  const bool cuda = backend == Backend::cuda;
  cuda_backend::DeferredFiniteCheck finite_check(cuda && !cuda_backend::finite_check_deferred(),
                                                 opt.stream);
  cuda_backend::SideStream v_stream(cuda && n.vt > 0, opt.stream);
  if (recipe.smooth_k) {
    check_pointer(buf.k_mean, "buffers.k_mean");
    // Null: no lse_offset (only an LSE needs it; attention_quantized then
    // refuses to return one).
    if (buf.lse_offset != nullptr) check_pointer(buf.lse_offset, "buffers.lse_offset");
    channel_mean(k, buf.k_mean, qopt);
  }
  const float* k_mean = recipe.smooth_k ? buf.k_mean : nullptr;
  quantize_per_token(k, k_mean, in.k, buf.k_scale, qopt);
  // Q itself is not smoothed: K's mean only enters its lse_offset.
  const bool q_offsets = recipe.smooth_k && buf.lse_offset != nullptr;
  quantize_q(q, in.q, buf.q_scale, q_offsets ? k_mean : nullptr, s.kv_heads,
             q_offsets ? buf.lse_offset : nullptr, qopt);
  if (n.vt) {
    in.vt_order = quantize_v(v, recipe.v, buf.vt, buf.v_scale,
                             QuantizeOptions{backend, v_stream.get(), opt.vt_order});
    v_stream.join();
  } else if (n.v16) {
    // half-int8 keeps V in 16 bits: f32 input is rounded to fp16.
    if (backend != Backend::cpu)
      detail::unsupported("recipe half-int8 on the CUDA back-end needs fp16 or bf16 V (got f32)");
    check_pointer(buf.v16, "buffers.v16", 2);
    cpu::convert_to_fp16(v, buf.v16);
    in.v = TensorView::bshd(buf.v16, DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  } else {
    in.v = v;  // fp16 / bf16 V is used in place
  }
  finite_check.check();
  return in;
}

HostQuantized::HostQuantized(const TensorView& q, const TensorView& k, const TensorView& v,
                             const Recipe& recipe) {
  const QuantizedSizes n =
      quantized_sizes(q.batch, q.heads, k.heads, q.seq, k.seq, q.dim, recipe, v.dtype);
  auto size = [](int64_t count) { return static_cast<size_t>(count); };
  q8_.resize(size(n.q8)), k8_.resize(size(n.k8)), vt_.resize(size(n.vt));
  q_scale_.resize(size(n.q_scale)), k_scale_.resize(size(n.k_scale));
  k_mean_.resize(size(n.k_mean)), lse_offset_.resize(size(n.lse_offset));
  v_scale_.resize(size(n.v_scale)), v16_.resize(size(n.v16));
  auto ptr = [](auto& vec) { return vec.empty() ? nullptr : vec.data(); };
  QuantizedBuffers buf;
  buf.q8 = ptr(q8_), buf.k8 = ptr(k8_), buf.vt = ptr(vt_);
  buf.q_scale = ptr(q_scale_), buf.k_scale = ptr(k_scale_), buf.k_mean = ptr(k_mean_);
  buf.lse_offset = ptr(lse_offset_), buf.v_scale = ptr(v_scale_), buf.v16 = ptr(v16_);
  inputs_ = quantize(q, k, v, recipe, buf,
                     QuantizeOptions{Backend::cpu, nullptr, VtOrder::natural});
}

// ---- attention ---------------------------------------------------------------
void attention_quantized(const QuantizedInputs& in, const TensorView& out, float* lse,
                         const AttentionOptions& opt) {
  const Recipe& r = in.recipe;
  if (!r.int8_qk())
    fail("attention_quantized takes int8 Q and K; recipe " + recipe_name(r) +
         " is a float baseline (use attention())");
  if (r != opt.recipe)
    fail("QuantizedInputs.recipe (" + recipe_name(r) + ") differs from AttentionOptions.recipe (" +
         recipe_name(opt.recipe) + ")");
  check_tensor(in.q, "q", {DType::i8});
  check_tensor(in.k, "k", {DType::i8});
  check_tensor(out, "out", kFloatInputs);
  check_pointer(in.q_scale, "q_scale");
  check_pointer(in.k_scale, "k_scale");
  if (r.smooth_k && lse != nullptr && in.lse_offset == nullptr)
    fail("an LSE was asked for, but QuantizedInputs.lse_offset is null: recipe " +
         recipe_name(r) + " smooths K, so its LSE needs q · mean(K) [B, H, Sq] (quantize() "
         "writes it when buffers.lse_offset is set)");
  check_kv_block(opt.kv_block);
  const bool int8_v = r.int8_v();
  if (int8_v) {
    check_pointer(in.vt, "vt", 16);
    check_pointer(in.v_scale, "v_scale");
    check_vt_order(in.vt_order, "QuantizedInputs.vt_order");
  } else {
    check_tensor(in.v, "v", kFloatInputs);
  }
  const detail::Shape shape =
      detail::check_attention_shapes(in.q, in.k, int8_v ? nullptr : &in.v, out);
  const Backend backend = resolve_backend(opt.backend, in.q.data);
  for (auto [ptr, name] : {std::pair<const void*, const char*>{in.k.data, "k"},
                           {in.q_scale, "q_scale"}, {in.k_scale, "k_scale"},
                           {in.lse_offset, "lse_offset"}, {in.vt, "vt"}, {in.v_scale, "v_scale"},
                           {in.v.data, "v"}, {out.data, "out"}, {lse, "lse"}})
    check_memory(backend, ptr, name);

  std::vector<float> unit_scales;  // float V carries no scale on the CPU
  AttentionParams p = detail::build_params(in, out, lse, opt, backend, shape, unit_scales);
  Scratch scratch(backend, opt.stream);  // a reordered V̂ᵀ, if the kernel needs one
  run(backend, p, scratch);
}

namespace {

struct OneCall {
  detail::Shape shape;
  Backend backend;
};

// attention()'s argument checks.
OneCall check_one_call(const TensorView& q, const TensorView& k, const TensorView& v,
                       const TensorView& out, float* lse, const AttentionOptions& opt) {
  check_tensor(q, "q", kFloatInputs);
  check_tensor(k, "k", kFloatInputs);
  check_tensor(v, "v", kFloatInputs);
  check_tensor(out, "out", kFloatInputs);
  check_kv_block(opt.kv_block);
  const detail::Shape s = detail::check_attention_shapes(q, k, &v, out);
  const Backend backend = resolve_backend(opt.backend, q.data);
  for (auto [ptr, name] : {std::pair<const void*, const char*>{k.data, "k"}, {v.data, "v"},
                           {out.data, "out"}, {lse, "lse"}})
    check_memory(backend, ptr, name);
  if (backend == Backend::cpu) detail::check_head_dim_cpu(s.head_dim);
  return {s, backend};
}

// The V̂ᵀ order attention() quantizes in: the params it is about to run are
// built from the (possibly not yet allocated: null) quantized buffers, and the
// back-end says which order its kernel for them reads.
VtOrder one_call_vt_order(const OneCall& c, const QuantizedBuffers& buf, const TensorView& out,
                          float* lse, const AttentionOptions& opt) {
  const Recipe& r = opt.recipe;
  if (c.backend != Backend::cuda || !r.int8_qk() || !r.int8_v()) return VtOrder::natural;
  AttentionOptions qa = opt;
  qa.backend = c.backend;
  std::vector<float> unit_scales;
  const AttentionParams p = detail::build_params(quantized_views(c.shape, r, buf), out, lse, qa,
                                                 c.backend, c.shape, unit_scales);
  return cuda_backend::vt_order_for(p);
}

}  // namespace

VtOrder attention_vt_order(const TensorView& q, const TensorView& k, const TensorView& v,
                           const TensorView& out, float* lse, const AttentionOptions& opt) {
  const OneCall c = check_one_call(q, k, v, out, lse, opt);
  return one_call_vt_order(c, QuantizedBuffers{}, out, lse, opt);
}

void attention(const TensorView& q, const TensorView& k, const TensorView& v,
               const TensorView& out, float* lse, const AttentionOptions& opt) {
  const OneCall c = check_one_call(q, k, v, out, lse, opt);
  const detail::Shape& s = c.shape;
  const Backend backend = c.backend;
  const Recipe& r = opt.recipe;
  Scratch scratch(backend, opt.stream);

  if (!r.int8_qk()) {
    // Float baselines (fp16, fp8-tensor): operands rounded to the format and
    // kept as f32 values, computed by the same tiled kernel in fp32.
    if (backend != Backend::cpu)
      detail::unsupported("recipe " + recipe_name(r) +
                          " is a float baseline computed on the CPU back-end only");
    float* qf = scratch.get<float>(s.batch * s.seqlen_q * s.heads * s.head_dim);
    float* kf = scratch.get<float>(s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
    float* vf = scratch.get<float>(s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
    float* q_scale = scratch.get<float>(s.batch * s.heads * s.seqlen_q);
    float* k_scale = scratch.get<float>(s.batch * s.kv_heads * s.seqlen_k);
    float* v_scale = scratch.get<float>(s.batch * s.kv_heads * s.head_dim);
    cpu::prepare_float_qk(q, r.qk, qf, q_scale);
    cpu::prepare_float_qk(k, r.qk, kf, k_scale);
    cpu::prepare_float_v(v, r.v, vf, v_scale);
    AttentionParams p = detail::float_operand_params(
        TensorView::bshd(qf, DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
        TensorView::bshd(kf, DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
        TensorView::bshd(vf, DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim), out, lse,
        opt, s);
    p.q_scale = q_scale, p.k_scale = k_scale, p.v_scale = v_scale;
    return run(backend, p, scratch);
  }

  // INT8 Q/K: quantize into scratch, then the quantized kernel. On CUDA the
  // quantization kernels' non-finite checks are read once, before attention.
  cuda_backend::DeferredFiniteCheck finite_check(backend == Backend::cuda, opt.stream);
  const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k,
                                           s.head_dim, r, v.dtype);
  QuantizedBuffers buf;
  buf.q8 = scratch.get<int8_t>(n.q8);
  buf.k8 = scratch.get<int8_t>(n.k8);
  buf.q_scale = scratch.get<float>(n.q_scale);
  buf.k_scale = scratch.get<float>(n.k_scale);
  if (n.k_mean) buf.k_mean = scratch.get<float>(n.k_mean);
  // Q's lse_offset (q · mean(K), a float64 dot per row) only matters to the
  // LSE: without one it is not computed.
  if (n.lse_offset && lse != nullptr) buf.lse_offset = scratch.get<float>(n.lse_offset);
  if (n.vt) buf.vt = scratch.get<int8_t>(n.vt);
  if (n.v_scale) buf.v_scale = scratch.get<float>(n.v_scale);
  if (n.v16) buf.v16 = scratch.get<uint16_t>(n.v16);
  // V̂ᵀ in the order of the kernel that will run (no reordering pass).
  const VtOrder order = one_call_vt_order(c, buf, out, lse, opt);
  const QuantizedInputs in = quantize(q, k, v, r, buf, QuantizeOptions{backend, opt.stream, order});
  AttentionOptions qa = opt;
  qa.backend = backend;
  finite_check.check();  // CUDA: one stream synchronization
  attention_quantized(in, out, lse, qa);
}

void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out, double* lse, bool causal,
                         std::optional<float> softmax_scale) {
  check_tensor(q, "q", kFloatInputs);
  check_tensor(k, "k", kFloatInputs);
  check_tensor(v, "v", kFloatInputs);
  check_pointer(out, "out", 8);
  detail::check_attention_shapes(q, k, &v, TensorView::bshd(out, DType::f32, q.batch, q.seq,
                                                               q.heads, q.dim));
  detail::check_head_dim_cpu(q.dim);
  if (cuda_backend::is_device_pointer(q.data))
    fail("attention_reference runs on the CPU and needs host memory");
  AttentionOptions opt;
  opt.softmax_scale = softmax_scale;
  const double scale = softmax_scale ? static_cast<double>(detail::resolve_softmax_scale(opt, q.dim))
                                     : 1.0 / std::sqrt(static_cast<double>(q.dim));
  cpu::attention_reference(q, k, v, out, lse, causal, scale);
}

}  // namespace intfa
