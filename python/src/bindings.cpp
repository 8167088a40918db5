// intfa._core: the nanobind extension behind the `intfa` Python package.
//
// A thin layer over the C++ API (include/intfa/intfa.hpp). Every array comes in
// as a DLPack-style nb::ndarray (NumPy, PyTorch, CuPy, JAX, ... without a
// copy); its sizes and element strides become a TensorView, so strided views
// work and a non-contiguous head dimension reaches the library's own check
// ("... the head dimension must be contiguous (stride 1)"). Outputs are
// allocated by the Python wrapper (python/intfa/) in the caller's framework
// and passed in writable. intfa::Error becomes a Python exception by its code.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "intfa/intfa.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using intfa::DType;
using intfa::Error;
using intfa::StatusCode;
using intfa::TensorView;

// Inputs may be read-only (JAX arrays, non-writeable NumPy arrays); outputs
// must be writable.
using In = nb::ndarray<nb::ro>;
using Out = nb::ndarray<>;

[[noreturn]] void invalid(const std::string& message) {
  throw Error(StatusCode::invalid_argument, message);
}

// ---- exceptions --------------------------------------------------------------
PyObject* g_error = nullptr;                // intfa.Error(Exception)
PyObject* g_invalid_argument = nullptr;     // (Error, ValueError)
PyObject* g_unsupported = nullptr;          // (Error, NotImplementedError)
PyObject* g_nonfinite = nullptr;            // (Error, FloatingPointError, ValueError)
PyObject* g_backend_unavailable = nullptr;  // (Error, RuntimeError)
PyObject* g_cuda_error = nullptr;           // (Error, RuntimeError)
PyObject* g_internal = nullptr;             // (Error, RuntimeError)

PyObject* new_exception(nb::module_& m, const char* name, std::vector<PyObject*> bases,
                        const char* doc) {
  PyObject* tuple = PyTuple_New(static_cast<Py_ssize_t>(bases.size()));
  for (size_t i = 0; i < bases.size(); ++i) {
    Py_INCREF(bases[i]);
    PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), bases[i]);
  }
  const std::string qualified = std::string("intfa.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, tuple, nullptr);
  Py_DECREF(tuple);
  if (!type) throw nb::python_error();
  m.attr(name) = nb::handle(type);  // the module keeps a reference; so do we
  return type;
}

void register_exceptions(nb::module_& m) {
  g_error = new_exception(m, "Error", {PyExc_Exception},
                          "Base class of every error raised by the intfa library.");
  g_invalid_argument = new_exception(
      m, "InvalidArgumentError", {g_error, PyExc_ValueError},
      "A wrong shape, dtype, stride, device, name or value (intfa::StatusCode::invalid_argument).");
  g_unsupported = new_exception(
      m, "UnsupportedError", {g_error, PyExc_NotImplementedError},
      "A valid request that the chosen back-end does not support (StatusCode::unsupported).");
  g_nonfinite = new_exception(
      m, "NonFiniteInputError", {g_error, PyExc_FloatingPointError, PyExc_ValueError},
      "NaN or Inf in an input (StatusCode::nonfinite_input).");
  g_backend_unavailable = new_exception(
      m, "BackendUnavailableError", {g_error, PyExc_RuntimeError},
      "The requested back-end is not built or has no device (StatusCode::backend_unavailable).");
  g_cuda_error = new_exception(m, "CudaError", {g_error, PyExc_RuntimeError},
                               "A CUDA runtime error (StatusCode::cuda_error).");
  g_internal = new_exception(m, "InternalError", {g_error, PyExc_RuntimeError},
                             "A bug in intfa (StatusCode::internal).");
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      PyObject* type = g_internal;
      switch (e.code()) {
        case StatusCode::invalid_argument: type = g_invalid_argument; break;
        case StatusCode::unsupported: type = g_unsupported; break;
        case StatusCode::nonfinite_input: type = g_nonfinite; break;
        case StatusCode::backend_unavailable: type = g_backend_unavailable; break;
        case StatusCode::cuda_error: type = g_cuda_error; break;
        case StatusCode::ok:
        case StatusCode::internal: type = g_internal; break;
      }
      PyErr_SetString(type, e.what());
    }
  });
}

// ---- arrays ------------------------------------------------------------------
// DLPack device types (dlpack.h): host memory the CPU back-end can read, and
// CUDA memory.
constexpr int kDLCPU = 1, kDLCUDA = 2, kDLCUDAHost = 3, kDLCUDAManaged = 13;

std::string dtype_string(nb::dlpack::dtype t) {
  std::string base;
  switch (static_cast<nb::dlpack::dtype_code>(t.code)) {
    case nb::dlpack::dtype_code::Int: base = "int"; break;
    case nb::dlpack::dtype_code::UInt: base = "uint"; break;
    case nb::dlpack::dtype_code::Float: base = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: base = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: base = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: base = "dlpack-code-" + std::to_string(t.code) + "-"; break;
  }
  std::string s = base + std::to_string(t.bits);
  if (t.lanes != 1) s += "x" + std::to_string(t.lanes);
  return s;
}

std::optional<DType> to_dtype(nb::dlpack::dtype t) {
  if (t.lanes != 1) return std::nullopt;
  const auto code = static_cast<nb::dlpack::dtype_code>(t.code);
  if (code == nb::dlpack::dtype_code::Float && t.bits == 32) return DType::f32;
  if (code == nb::dlpack::dtype_code::Float && t.bits == 16) return DType::f16;
  if (code == nb::dlpack::dtype_code::Bfloat && t.bits == 16) return DType::bf16;
  if (code == nb::dlpack::dtype_code::Int && t.bits == 8) return DType::i8;
  if (code == nb::dlpack::dtype_code::UInt && t.bits == 8) return DType::u8;
  return std::nullopt;
}

std::string device_string(int type, int id) {
  switch (type) {
    case kDLCPU: return "cpu";
    case kDLCUDA: return "cuda:" + std::to_string(id);
    case kDLCUDAHost: return "cuda_host (pinned host memory)";
    case kDLCUDAManaged: return "cuda_managed:" + std::to_string(id);
    default: return "DLPack device type " + std::to_string(type) + ":" + std::to_string(id);
  }
}

template <typename A>
std::string shape_string(const A& a) {
  std::string s = "[";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + "]";
}

// The device all arrays of one call live on. Host memory (cpu, cuda_host)
// counts as one device; CUDA memory must be on one device id.
class DeviceCheck {
 public:
  template <typename A>
  void add(const A& a, const char* name) {
    int type = a.device_type(), id = a.device_id();
    if (type != kDLCPU && type != kDLCUDA && type != kDLCUDAHost && type != kDLCUDAManaged)
      invalid(std::string(name) + " lives on " + device_string(type, id) +
              ": intfa takes host (CPU) or CUDA memory");
    const bool cuda = type == kDLCUDA || type == kDLCUDAManaged;
    if (!cuda) id = 0;
    if (first_) {
      first_ = false, cuda_ = cuda, id_ = id, name_ = name, type_ = type;
      return;
    }
    if (cuda != cuda_ || id != id_)
      invalid(std::string(name) + " is on " + device_string(type, id) + " but " + name_ +
              " is on " + device_string(type_, id_) + ": all arrays must be on one device");
  }
  bool cuda() const { return !first_ && cuda_; }
  // Called once every array is added: CUDA memory needs the CUDA back-end,
  // which a build without CUDA (or a machine without a GPU) does not have.
  // Without this check a CPU-only build would read device pointers as host
  // memory.
  void require_usable() const {
    if (first_ || !cuda_) return;
    if (!intfa::cuda_available()) {
#ifdef INTFA_WITH_CUDA
      throw Error(StatusCode::backend_unavailable,
                  std::string(name_) + " is CUDA memory, but no CUDA device is visible to intfa");
#else
      throw Error(StatusCode::backend_unavailable,
                  std::string(name_) +
                      " is CUDA memory, but the CUDA back-end is not available: this intfa "
                      "package was built without CUDA (reinstall with a CUDA toolkit present and "
                      "-C cmake.define.INTFA_ENABLE_CUDA=ON)");
#endif
    }
  }

 private:
  bool first_ = true, cuda_ = false;
  int id_ = 0, type_ = 0;
  const char* name_ = "";
};

enum class Layout { bshd, bhsd };

Layout parse_layout(const std::string& s) {
  if (s == "bshd") return Layout::bshd;
  if (s == "bhsd") return Layout::bhsd;
  invalid("unknown layout '" + s + "' (expected 'bshd' for [batch, seq, heads, dim] or 'bhsd' "
          "for [batch, heads, seq, dim])");
}

const char* layout_dims(Layout l) {
  return l == Layout::bshd ? "[batch, seq, heads, dim]" : "[batch, heads, seq, dim]";
}

// A 4-D array as a TensorView. Element type and the strides are passed on as
// they are: the library validates them (dtype list, stride 1 on the head dim,
// non-negative strides) with its own messages.
template <typename A>
TensorView view4(const A& a, const char* name, Layout layout) {
  if (a.ndim() != 4)
    invalid(std::string(name) + " must be 4-D " + layout_dims(layout) + " (layout '" +
            (layout == Layout::bshd ? "bshd" : "bhsd") + "'), got " + std::to_string(a.ndim()) +
            "-D shape " + shape_string(a));
  const auto dt = to_dtype(a.dtype());
  if (!dt)
    invalid(std::string(name) + " has dtype " + dtype_string(a.dtype()) +
            " (intfa takes float32, float16, bfloat16 inputs and int8 quantized operands)");
  TensorView t;
  t.data = const_cast<void*>(static_cast<const void*>(a.data()));
  t.dtype = *dt;
  const size_t s_axis = layout == Layout::bshd ? 1 : 2;
  const size_t h_axis = layout == Layout::bshd ? 2 : 1;
  t.batch = static_cast<int64_t>(a.shape(0));
  t.seq = static_cast<int64_t>(a.shape(s_axis));
  t.heads = static_cast<int64_t>(a.shape(h_axis));
  t.dim = static_cast<int64_t>(a.shape(3));
  t.stride_batch = a.stride(0);
  t.stride_seq = a.stride(s_axis);
  t.stride_head = a.stride(h_axis);
  // A dimension of size one has no meaningful stride (frameworks report
  // anything there); only a real head dimension must be contiguous.
  t.stride_dim = t.dim == 1 ? 1 : a.stride(3);
  return t;
}

// A contiguous fp32 array of exactly `expected` shape (scales, means, LSE).
template <typename A>
float* f32_array(const A& a, const char* name, std::initializer_list<int64_t> expected) {
  std::string want = "[";
  int64_t i = 0;
  for (int64_t e : expected) want += (i++ ? ", " : "") + std::to_string(e);
  want += "]";
  const auto dt = to_dtype(a.dtype());
  if (!dt || *dt != DType::f32)
    invalid(std::string(name) + " must be float32 (got " + dtype_string(a.dtype()) + ")");
  bool ok = a.ndim() == expected.size();
  i = 0;
  for (int64_t e : expected) ok = ok && static_cast<int64_t>(a.shape(i++)) == e;
  if (!ok)
    invalid(std::string(name) + " must have shape " + want + ", got " +
            shape_string(a));
  int64_t stride = 1;
  for (size_t d = a.ndim(); d-- > 0;) {
    if (a.shape(d) != 1 && a.stride(d) != stride)
      invalid(std::string(name) + " must be C-contiguous");
    stride *= static_cast<int64_t>(a.shape(d));
  }
  return const_cast<float*>(static_cast<const float*>(static_cast<const void*>(a.data())));
}

std::optional<float> opt_scale(std::optional<double> s) {
  if (!s) return std::nullopt;
  return static_cast<float>(*s);
}

void* as_stream(uintptr_t stream) { return reinterpret_cast<void*>(stream); }

// ---- functions -----------------------------------------------------------------
// AttentionOptions from the Python arguments (names validated by the library).
intfa::AttentionOptions attention_options(const std::string& recipe, const std::string& backend,
                                          bool causal, std::optional<double> scale,
                                          int32_t kv_block, uintptr_t stream) {
  intfa::AttentionOptions opt;
  opt.recipe = intfa::parse_recipe(recipe);
  opt.backend = intfa::parse_backend(backend);
  opt.causal = causal;
  opt.softmax_scale = opt_scale(scale);
  opt.kv_block = kv_block;
  opt.stream = as_stream(stream);
  return opt;
}

void attention(const In& q, const In& k, const In& v, const Out& out,
               const std::optional<Out>& lse, const std::string& layout_name, bool causal,
               std::optional<double> scale, const std::string& recipe,
               const std::string& backend, int32_t kv_block, uintptr_t stream) {
  const Layout layout = parse_layout(layout_name);
  const intfa::AttentionOptions opt =
      attention_options(recipe, backend, causal, scale, kv_block, stream);
  DeviceCheck dev;
  dev.add(q, "q"), dev.add(k, "k"), dev.add(v, "v"), dev.add(out, "out");
  const TensorView tq = view4(q, "q", layout), tk = view4(k, "k", layout),
                   tv = view4(v, "v", layout), to = view4(out, "out", layout);
  float* lse_ptr = nullptr;
  if (lse) {
    dev.add(*lse, "lse");
    lse_ptr = f32_array(*lse, "lse", {tq.batch, tq.heads, tq.seq});
  }
  dev.require_usable();
  nb::gil_scoped_release release;
  intfa::attention(tq, tk, tv, to, lse_ptr, opt);
}

void channel_mean(const In& k, const Out& mean, const std::string& layout_name,
                  const std::string& backend, uintptr_t stream) {
  const Layout layout = parse_layout(layout_name);
  DeviceCheck dev;
  dev.add(k, "k"), dev.add(mean, "mean");
  const TensorView tk = view4(k, "k", layout);
  float* m = f32_array(mean, "mean", {tk.batch, tk.heads, tk.dim});
  dev.require_usable();
  const intfa::QuantizeOptions opt{intfa::parse_backend(backend), as_stream(stream)};
  nb::gil_scoped_release release;
  intfa::channel_mean(tk, m, opt);
}

void quantize_per_token(const In& x, const std::optional<In>& mean, const Out& out,
                        const Out& scale, const std::string& layout_name,
                        const std::string& backend, uintptr_t stream) {
  const Layout layout = parse_layout(layout_name);
  DeviceCheck dev;
  dev.add(x, "x"), dev.add(out, "out"), dev.add(scale, "scale");
  const TensorView tx = view4(x, "x", layout), to = view4(out, "out", layout);
  float* s = f32_array(scale, "scale", {tx.batch, tx.heads, tx.seq});
  const float* m = nullptr;
  if (mean) {
    dev.add(*mean, "mean");
    m = f32_array(*mean, "mean", {tx.batch, tx.heads, tx.dim});
  }
  dev.require_usable();
  const intfa::QuantizeOptions opt{intfa::parse_backend(backend), as_stream(stream)};
  nb::gil_scoped_release release;
  intfa::quantize_per_token(tx, m, to, s, opt);
}

void quantize_q(const In& q, const Out& out, const Out& scale, const std::optional<In>& k_mean,
                int64_t kv_heads, const std::optional<Out>& lse_offset,
                const std::string& layout_name, const std::string& backend, uintptr_t stream) {
  const Layout layout = parse_layout(layout_name);
  DeviceCheck dev;
  dev.add(q, "q"), dev.add(out, "out"), dev.add(scale, "scale");
  const TensorView tq = view4(q, "q", layout), to = view4(out, "out", layout);
  float* s = f32_array(scale, "scale", {tq.batch, tq.heads, tq.seq});
  const float* m = nullptr;
  float* off = nullptr;
  if (k_mean) {
    dev.add(*k_mean, "k_mean");
    m = f32_array(*k_mean, "k_mean", {tq.batch, kv_heads, tq.dim});
  }
  if (lse_offset) {
    dev.add(*lse_offset, "lse_offset");
    off = f32_array(*lse_offset, "lse_offset", {tq.batch, tq.heads, tq.seq});
  }
  dev.require_usable();
  const intfa::QuantizeOptions opt{intfa::parse_backend(backend), as_stream(stream)};
  nb::gil_scoped_release release;
  intfa::quantize_q(tq, to, s, m, kv_heads, off, opt);
}

std::optional<intfa::VtOrder> opt_vt_order(const std::optional<std::string>& name) {
  if (!name) return std::nullopt;
  return intfa::parse_vt_order(*name);
}

// Returns the name of the V̂ᵀ order written.
std::string quantize_v(const In& v, const std::string& recipe, const Out& vt, const Out& scale,
                       const std::string& layout_name, const std::string& backend,
                       uintptr_t stream, const std::optional<std::string>& vt_order) {
  const Layout layout = parse_layout(layout_name);
  const intfa::Recipe r = intfa::parse_recipe(recipe);
  DeviceCheck dev;
  dev.add(v, "v"), dev.add(vt, "vt"), dev.add(scale, "scale");
  const TensorView tv = view4(v, "v", layout);
  if (vt.ndim() != 4 || static_cast<int64_t>(vt.shape(0)) != tv.batch ||
      static_cast<int64_t>(vt.shape(1)) != tv.heads || static_cast<int64_t>(vt.shape(2)) != tv.dim ||
      static_cast<int64_t>(vt.shape(3)) != intfa::padded_kv_length(tv.seq))
    invalid("vt must have shape [B, Hk, D, Sk_pad] = [" + std::to_string(tv.batch) + ", " +
            std::to_string(tv.heads) + ", " + std::to_string(tv.dim) + ", " +
            std::to_string(intfa::padded_kv_length(tv.seq)) + "], got " +
            shape_string(vt));
  const auto vt_dtype = to_dtype(vt.dtype());
  if (!vt_dtype || *vt_dtype != DType::i8)
    invalid("vt must be int8 (got " + dtype_string(vt.dtype()) + ")");
  const int64_t sp = intfa::padded_kv_length(tv.seq);
  if (vt.stride(3) != 1 || vt.stride(2) != sp || vt.stride(1) != tv.dim * sp ||
      (tv.batch > 1 && vt.stride(0) != tv.heads * tv.dim * sp))
    invalid("vt must be C-contiguous");
  float* s = f32_array(scale, "v_scale", {tv.batch, tv.heads, tv.dim});
  dev.require_usable();
  const intfa::QuantizeOptions opt{intfa::parse_backend(backend), as_stream(stream),
                                   opt_vt_order(vt_order)};
  int8_t* vt_ptr = static_cast<int8_t*>(static_cast<void*>(vt.data()));
  intfa::VtOrder used = intfa::VtOrder::natural;
  {
    nb::gil_scoped_release release;
    used = intfa::quantize_v(tv, r.v, vt_ptr, s, opt);
  }
  return intfa::vt_order_name(used);
}

void attention_quantized(const std::string& recipe, const In& q, const In& q_scale,
                         const std::optional<In>& lse_offset, const In& k, const In& k_scale,
                         const std::optional<In>& vt, const std::optional<In>& v_scale,
                         const std::optional<In>& v, const Out& out,
                         const std::optional<Out>& lse, const std::string& layout_name,
                         bool causal, std::optional<double> scale, const std::string& backend,
                         int32_t kv_block, uintptr_t stream, const std::string& vt_order) {
  const Layout layout = parse_layout(layout_name);
  const intfa::AttentionOptions opt =
      attention_options(recipe, backend, causal, scale, kv_block, stream);
  intfa::QuantizedInputs in;
  in.recipe = opt.recipe;
  in.vt_order = intfa::parse_vt_order(vt_order);
  DeviceCheck dev;
  dev.add(q, "q"), dev.add(k, "k"), dev.add(out, "out");
  dev.add(q_scale, "q_scale"), dev.add(k_scale, "k_scale");
  in.q = view4(q, "q", layout);
  in.k = view4(k, "k", layout);
  const TensorView to = view4(out, "out", layout);
  const int64_t B = in.q.batch, H = in.q.heads, Sq = in.q.seq, Hk = in.k.heads,
                Sk = in.k.seq, D = in.q.dim;
  in.q_scale = f32_array(q_scale, "q_scale", {B, H, Sq});
  in.k_scale = f32_array(k_scale, "k_scale", {B, Hk, Sk});
  if (lse_offset) {
    dev.add(*lse_offset, "lse_offset");
    in.lse_offset = f32_array(*lse_offset, "lse_offset", {B, H, Sq});
  } else if (opt.recipe.smooth_k) {
    invalid("recipe " + intfa::recipe_name(opt.recipe) +
            " smooths K and needs lse_offset [B, H, Sq] from quantize()");
  }
  if (opt.recipe.int8_v()) {
    if (!vt || !v_scale)
      invalid("recipe " + intfa::recipe_name(opt.recipe) +
              " has an int8 V: vt [B, Hk, D, Sk_pad] and v_scale [B, Hk, D] are required");
    dev.add(*vt, "vt"), dev.add(*v_scale, "v_scale");
    const int64_t sp = intfa::padded_kv_length(Sk);
    const auto vt_dtype = to_dtype(vt->dtype());
    if (!vt_dtype || *vt_dtype != DType::i8)
      invalid("vt must be int8 (got " + dtype_string(vt->dtype()) + ")");
    bool shape_ok = vt->ndim() == 4 && static_cast<int64_t>(vt->shape(0)) == B &&
                    static_cast<int64_t>(vt->shape(1)) == Hk &&
                    static_cast<int64_t>(vt->shape(2)) == D &&
                    static_cast<int64_t>(vt->shape(3)) == sp;
    if (!shape_ok)
      invalid("vt must have shape [B, Hk, D, Sk_pad] = [" + std::to_string(B) + ", " +
              std::to_string(Hk) + ", " + std::to_string(D) + ", " + std::to_string(sp) +
              "], got " + shape_string(*vt));
    if (vt->stride(3) != 1 || (D > 1 && vt->stride(2) != sp) ||
        (Hk > 1 && vt->stride(1) != D * sp) || (B > 1 && vt->stride(0) != Hk * D * sp))
      invalid("vt must be C-contiguous");
    in.vt = static_cast<const int8_t*>(static_cast<const void*>(vt->data()));
    in.v_scale = f32_array(*v_scale, "v_scale", {B, Hk, D});
  } else {
    if (!v)
      invalid("recipe " + intfa::recipe_name(opt.recipe) +
              " keeps V in 16 bits: v [B, Sk, Hk, D] is required");
    dev.add(*v, "v");
    in.v = view4(*v, "v", layout);
  }
  float* lse_ptr = nullptr;
  if (lse) {
    dev.add(*lse, "lse");
    lse_ptr = f32_array(*lse, "lse", {B, H, Sq});
  }
  dev.require_usable();
  nb::gil_scoped_release release;
  intfa::attention_quantized(in, to, lse_ptr, opt);
}

void attention_reference(const In& q, const In& k, const In& v, const Out& out,
                         const std::optional<Out>& lse, const std::string& layout_name,
                         bool causal, std::optional<double> scale) {
  const Layout layout = parse_layout(layout_name);
  DeviceCheck dev;
  dev.add(q, "q"), dev.add(k, "k"), dev.add(v, "v"), dev.add(out, "out");
  const TensorView tq = view4(q, "q", layout), tk = view4(k, "k", layout),
                   tv = view4(v, "v", layout);
  auto is_f64 = [](nb::dlpack::dtype t) {
    return t.code == static_cast<uint8_t>(nb::dlpack::dtype_code::Float) && t.bits == 64 &&
           t.lanes == 1;
  };
  if (!is_f64(out.dtype()) || out.ndim() != 4 || out.shape(0) != static_cast<size_t>(tq.batch) ||
      out.shape(1) != static_cast<size_t>(tq.seq) || out.shape(2) != static_cast<size_t>(tq.heads) ||
      out.shape(3) != static_cast<size_t>(tq.dim))
    invalid("out must be float64 [B, Sq, H, D] (contiguous, bshd whatever the input layout)");
  double* lse_ptr = nullptr;
  if (lse) {
    dev.add(*lse, "lse");
    if (!is_f64(lse->dtype()) || lse->size() != static_cast<size_t>(tq.batch * tq.heads * tq.seq))
      invalid("lse must be float64 [B, H, Sq]");
    lse_ptr = static_cast<double*>(lse->data());
  }
  if (dev.cuda()) invalid("attention_reference runs on the CPU and needs host arrays");
  nb::gil_scoped_release release;
  intfa::attention_reference(tq, tk, tv, static_cast<double*>(out.data()), lse_ptr, causal,
                             opt_scale(scale));
}

nb::dict recipe_info(const std::string& name) {
  const intfa::Recipe r = intfa::parse_recipe(name);
  static const char* qk[] = {"int8_per_token", "fp16", "e4m3_per_tensor"};
  static const char* v[] = {"int8_per_tensor", "int8_per_channel", "fp16", "e4m3_per_tensor"};
  static const char* p[] = {"int8_running_max", "uint8_block_max", "fp16", "e4m3"};
  nb::dict d;
  d["name"] = intfa::recipe_name(r);
  d["qk"] = qk[static_cast<int>(r.qk)];
  d["smooth_k"] = r.smooth_k;
  d["v"] = v[static_cast<int>(r.v)];
  d["p"] = p[static_cast<int>(r.p)];
  d["int8_qk"] = r.int8_qk();
  d["int8_v"] = r.int8_v();
  d["full_int8"] = r.full_int8();
  return d;
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "intfa C++ bindings (use the `intfa` package, not this module)";
  register_exceptions(m);
#ifdef INTFA_WITH_CUDA
  m.attr("built_with_cuda") = true;
#else
  m.attr("built_with_cuda") = false;
#endif
  m.def("version", &intfa::version);
  m.def("cuda_available", &intfa::cuda_available,
        "True when this build has the CUDA back-end and a CUDA device is visible.");
  m.def("padded_kv_length", &intfa::padded_kv_length, "seqlen_k"_a);
  m.def("default_vt_order",
        [](const std::string& backend) {
          return std::string(intfa::vt_order_name(
              intfa::default_vt_order(intfa::parse_backend(backend))));
        },
        "backend"_a,
        "The V̂ᵀ order quantize() writes by default on 'cpu' or 'cuda' (CUDA: the current "
        "device's fastest kernel's).");
  m.def("vt_position",
        [](int64_t token, const std::string& order) {
          if (token < 0) invalid("token must be >= 0 (got " + std::to_string(token) + ")");
          return intfa::vt_position(token, intfa::parse_vt_order(order));
        },
        "token"_a, "order"_a, "Position of `token` on V̂ᵀ's padded axis in `order`.");
  m.def("recipe_info", &recipe_info, "name"_a);
  m.def("default_kv_block",
        [](const std::string& backend, const std::string& recipe, int64_t head_dim) {
          return intfa::default_kv_block(intfa::parse_backend(backend),
                                         intfa::parse_recipe(recipe), head_dim);
        },
        "backend"_a, "recipe"_a, "head_dim"_a);

  m.def("attention", &attention, "q"_a, "k"_a, "v"_a, "out"_a, "lse"_a.none(), "layout"_a,
        "causal"_a, "scale"_a.none(), "recipe"_a, "backend"_a, "kv_block"_a, "stream"_a);
  m.def("channel_mean", &channel_mean, "k"_a, "mean"_a, "layout"_a, "backend"_a, "stream"_a);
  m.def("quantize_per_token", &quantize_per_token, "x"_a, "mean"_a.none(), "out"_a, "scale"_a,
        "layout"_a, "backend"_a, "stream"_a);
  m.def("quantize_q", &quantize_q, "q"_a, "out"_a, "scale"_a, "k_mean"_a.none(), "kv_heads"_a,
        "lse_offset"_a.none(), "layout"_a, "backend"_a, "stream"_a);
  m.def("quantize_v", &quantize_v, "v"_a, "recipe"_a, "vt"_a, "scale"_a, "layout"_a,
        "backend"_a, "stream"_a, "vt_order"_a.none());
  m.def("attention_quantized", &attention_quantized, "recipe"_a, "q"_a, "q_scale"_a,
        "lse_offset"_a.none(), "k"_a, "k_scale"_a, "vt"_a.none(), "v_scale"_a.none(),
        "v"_a.none(), "out"_a, "lse"_a.none(), "layout"_a, "causal"_a, "scale"_a.none(),
        "backend"_a, "kv_block"_a, "stream"_a, "vt_order"_a);
  m.def("attention_reference", &attention_reference, "q"_a, "k"_a, "v"_a, "out"_a,
        "lse"_a.none(), "layout"_a, "causal"_a, "scale"_a.none());
}
