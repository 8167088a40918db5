// The C API: a thin shell over the C++ API that turns exceptions into status
// codes and a thread-local message.
#include "intfa/intfa.h"

#include <exception>
#include <new>
#include <optional>
#include <string>

#include "intfa/intfa.hpp"

namespace {

thread_local std::string g_last_error;

template <typename Fn>
intfa_status guarded(Fn&& fn) {
  try {
    fn();
    g_last_error.clear();
    return INTFA_OK;
  } catch (const intfa::Error& e) {
    g_last_error = e.what();
    return static_cast<intfa_status>(e.code());
  } catch (const std::bad_alloc&) {
    g_last_error = "out of host memory";
    return INTFA_ERROR_INTERNAL;
  } catch (const std::exception& e) {
    g_last_error = e.what();
    return INTFA_ERROR_INTERNAL;
  } catch (...) {
    g_last_error = "unknown error";
    return INTFA_ERROR_INTERNAL;
  }
}

void require(const void* ptr, const char* name) {
  if (ptr == nullptr)
    throw intfa::Error(intfa::StatusCode::invalid_argument, std::string(name) + " is NULL");
}

intfa::TensorView view(const intfa_tensor* t, const char* name) {
  require(t, name);
  if (t->dtype < INTFA_F32 || t->dtype > INTFA_U8)
    throw intfa::Error(intfa::StatusCode::invalid_argument,
                       std::string(name) + " has an unknown dtype value " +
                           std::to_string(static_cast<int>(t->dtype)));
  intfa::TensorView v;
  v.data = t->data;
  v.dtype = static_cast<intfa::DType>(t->dtype);
  v.batch = t->shape[0], v.seq = t->shape[1], v.heads = t->shape[2], v.dim = t->shape[3];
  v.stride_batch = t->strides[0], v.stride_seq = t->strides[1], v.stride_head = t->strides[2];
  v.stride_dim = t->strides[3];
  return v;
}

intfa_tensor from_view(const intfa::TensorView& v) {
  intfa_tensor t;
  t.data = v.data;
  t.dtype = static_cast<intfa_dtype>(v.dtype);
  t.shape[0] = v.batch, t.shape[1] = v.seq, t.shape[2] = v.heads, t.shape[3] = v.dim;
  t.strides[0] = v.stride_batch, t.strides[1] = v.stride_seq, t.strides[2] = v.stride_head;
  t.strides[3] = v.stride_dim;
  return t;
}

intfa::Backend backend_of(intfa_backend b) {
  if (b < INTFA_BACKEND_AUTO || b > INTFA_BACKEND_CUDA)
    throw intfa::Error(intfa::StatusCode::invalid_argument,
                       "unknown back-end value " + std::to_string(static_cast<int>(b)));
  return static_cast<intfa::Backend>(b);
}

// An order that names a layout (natural, interleaved16); DEFAULT when allowed.
std::optional<intfa::VtOrder> vt_order_of(intfa_vt_order o, bool allow_default,
                                          const char* name) {
  if (o == INTFA_VT_ORDER_NATURAL) return intfa::VtOrder::natural;
  if (o == INTFA_VT_ORDER_INTERLEAVED16) return intfa::VtOrder::interleaved16;
  if (o == INTFA_VT_ORDER_DEFAULT && allow_default) return std::nullopt;
  throw intfa::Error(intfa::StatusCode::invalid_argument,
                     std::string(name) + " has an unknown V̂ᵀ order value " +
                         std::to_string(static_cast<int>(o)) +
                         (allow_default ? " (INTFA_VT_ORDER_DEFAULT, _NATURAL or _INTERLEAVED16)"
                                        : " (INTFA_VT_ORDER_NATURAL or _INTERLEAVED16)"));
}

intfa::AttentionOptions options_of(const intfa_attention_options* o) {
  intfa_attention_options defaults;
  intfa_attention_options_init(&defaults);
  if (o == nullptr) o = &defaults;
  intfa::AttentionOptions opt;
  opt.causal = o->causal != 0;
  if (o->softmax_scale != 0.f) opt.softmax_scale = o->softmax_scale;
  opt.recipe = o->recipe ? intfa::parse_recipe(o->recipe) : intfa::Recipe::intfa();
  opt.backend = backend_of(o->backend);
  opt.kv_block = o->kv_block;
  opt.stream = o->stream;
  return opt;
}

}  // namespace

extern "C" {

intfa_tensor intfa_tensor_bshd(const void* data, intfa_dtype dtype, int64_t batch, int64_t seq,
                               int64_t heads, int64_t dim) {
  return from_view(intfa::TensorView::bshd(data, static_cast<intfa::DType>(dtype), batch, seq,
                                           heads, dim));
}

intfa_tensor intfa_tensor_bhsd(const void* data, intfa_dtype dtype, int64_t batch, int64_t seq,
                               int64_t heads, int64_t dim) {
  return from_view(intfa::TensorView::bhsd(data, static_cast<intfa::DType>(dtype), batch, seq,
                                           heads, dim));
}

void intfa_attention_options_init(intfa_attention_options* options) {
  if (!options) return;
  options->causal = 0;
  options->softmax_scale = 0.f;
  options->recipe = nullptr;
  options->backend = INTFA_BACKEND_AUTO;
  options->kv_block = 0;
  options->stream = nullptr;
}

intfa_status intfa_attention(const intfa_tensor* q, const intfa_tensor* k, const intfa_tensor* v,
                             const intfa_tensor* out, float* lse,
                             const intfa_attention_options* options) {
  return guarded([&] {
    intfa::attention(view(q, "q"), view(k, "k"), view(v, "v"), view(out, "out"), lse,
                     options_of(options));
  });
}

intfa_status intfa_channel_mean(const intfa_tensor* k, float* mean, intfa_backend backend,
                                void* stream) {
  return guarded([&] { intfa::channel_mean(view(k, "k"), mean, {backend_of(backend), stream}); });
}

intfa_status intfa_quantize_per_token(const intfa_tensor* x, const float* mean,
                                      const intfa_tensor* out, float* scale,
                                      intfa_backend backend, void* stream) {
  return guarded([&] {
    intfa::quantize_per_token(view(x, "x"), mean, view(out, "out"), scale,
                              {backend_of(backend), stream});
  });
}

intfa_status intfa_quantize_q(const intfa_tensor* q, const intfa_tensor* out, float* scale,
                              const float* k_mean, int64_t kv_heads, float* lse_offset,
                              intfa_backend backend, void* stream) {
  return guarded([&] {
    intfa::quantize_q(view(q, "q"), view(out, "out"), scale, k_mean, kv_heads, lse_offset,
                      {backend_of(backend), stream});
  });
}

intfa_status intfa_quantize_v(const intfa_tensor* v, int per_channel, int8_t* vt, float* scale,
                              intfa_backend backend, void* stream) {
  return intfa_quantize_v_ordered(v, per_channel, INTFA_VT_ORDER_NATURAL, vt, scale, nullptr,
                                  backend, stream);
}

intfa_status intfa_quantize_v_ordered(const intfa_tensor* v, int per_channel, intfa_vt_order order,
                                      int8_t* vt, float* scale, intfa_vt_order* order_used,
                                      intfa_backend backend, void* stream) {
  return guarded([&] {
    const intfa::VtOrder used = intfa::quantize_v(
        view(v, "v"),
        per_channel ? intfa::VFormat::int8_per_channel : intfa::VFormat::int8_per_tensor, vt,
        scale, {backend_of(backend), stream, vt_order_of(order, true, "order")});
    if (order_used) *order_used = static_cast<intfa_vt_order>(used);
  });
}

intfa_status intfa_default_vt_order(intfa_backend backend, intfa_vt_order* order) {
  return guarded([&] {
    require(order, "order");
    *order = static_cast<intfa_vt_order>(intfa::default_vt_order(backend_of(backend)));
  });
}

int64_t intfa_vt_position(int64_t token, intfa_vt_order order) {
  if (token < 0 || (order != INTFA_VT_ORDER_NATURAL && order != INTFA_VT_ORDER_INTERLEAVED16))
    return -1;
  return intfa::vt_position(token, static_cast<intfa::VtOrder>(order));
}

int64_t intfa_padded_kv_length(int64_t seqlen_k) { return intfa::padded_kv_length(seqlen_k); }

intfa_status intfa_attention_quantized(const intfa_quantized_inputs* inputs,
                                       const intfa_tensor* out, float* lse,
                                       const intfa_attention_options* options) {
  return guarded([&] {
    require(inputs, "inputs");
    const intfa::AttentionOptions opt = options_of(options);
    intfa::QuantizedInputs in;
    in.recipe = opt.recipe;
    in.q = view(&inputs->q, "q");
    in.q_scale = inputs->q_scale;
    in.lse_offset = inputs->lse_offset;
    in.k = view(&inputs->k, "k");
    in.k_scale = inputs->k_scale;
    in.vt = inputs->vt;
    in.v_scale = inputs->v_scale;
    if (opt.recipe.int8_v())
      in.vt_order = *vt_order_of(inputs->vt_order, false, "inputs->vt_order");
    if (!opt.recipe.int8_v()) in.v = view(&inputs->v, "v");
    intfa::attention_quantized(in, view(out, "out"), lse, opt);
  });
}

intfa_status intfa_recipe_valid(const char* name) {
  return guarded([&] {
    require(name, "recipe name");
    (void)intfa::parse_recipe(name);
  });
}

const char* intfa_last_error(void) { return g_last_error.c_str(); }

const char* intfa_status_string(intfa_status status) {
  return intfa::status_name(static_cast<intfa::StatusCode>(status));
}

const char* intfa_version(void) { return intfa::version(); }

int intfa_cuda_available(void) { return intfa::cuda_available() ? 1 : 0; }

}  // extern "C"
