#include "core/validate.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

namespace intfa::detail {

void fail(const std::string& message) { throw Error(StatusCode::invalid_argument, message); }
void unsupported(const std::string& message) { throw Error(StatusCode::unsupported, message); }

std::string shape_string(const TensorView& t) {
  std::ostringstream os;
  os << "[" << t.batch << ", " << t.seq << ", " << t.heads << ", " << t.dim << "]";
  return os.str();
}

void check_pointer(const void* ptr, const char* name, std::size_t alignment) {
  if (ptr == nullptr) fail(std::string(name) + " is a null pointer");
  if (reinterpret_cast<std::uintptr_t>(ptr) % alignment != 0)
    fail(std::string(name) + " is not aligned to " + std::to_string(alignment) + " bytes");
}

void check_tensor(const TensorView& t, const char* name, std::initializer_list<DType> allowed) {
  const std::string n(name);
  if (t.data == nullptr) fail(n + " is a null pointer");
  bool ok = false;
  std::string names;
  for (DType d : allowed) {
    ok = ok || d == t.dtype;
    names += (names.empty() ? "" : ", ") + std::string(dtype_name(d));
  }
  if (!ok) fail(n + " has element type " + dtype_name(t.dtype) + " (expected " + names + ")");
  if (t.batch < 1 || t.seq < 1 || t.heads < 1 || t.dim < 1)
    fail(n + " has shape " + shape_string(t) + ": every size must be at least 1");
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (t.batch > kMax || t.seq > kMax || t.heads > kMax || t.dim > kMax)
    fail(n + " has shape " + shape_string(t) + ": sizes must fit in 32 bits");
  if (t.stride_dim != 1 && t.dim != 1)  // a size-1 dim may carry any stride
    fail(n + " has last-dimension stride " + std::to_string(t.stride_dim) +
         ": the head dimension must be contiguous (stride 1)");
  if (t.stride_batch < 0 || t.stride_seq < 0 || t.stride_head < 0)
    fail(n + " has a negative stride");
  if (reinterpret_cast<std::uintptr_t>(t.data) % dtype_size(t.dtype) != 0)
    fail(n + " is not aligned to its " + std::to_string(dtype_size(t.dtype)) + "-byte elements");
}

Shape check_attention_shapes(const TensorView& q, const TensorView& k, const TensorView* v,
                             const TensorView& out) {
  Shape s{q.batch, q.heads, k.heads, q.seq, k.seq, q.dim};
  if (k.batch != q.batch)
    fail("batch mismatch: q " + shape_string(q) + " vs k " + shape_string(k));
  if (k.dim != q.dim)
    fail("head dim mismatch: q " + shape_string(q) + " vs k " + shape_string(k));
  if (v) {
    if (v->batch != k.batch || v->seq != k.seq || v->heads != k.heads || v->dim != k.dim)
      fail("v " + shape_string(*v) + " must have the shape of k " + shape_string(k) +
           " ([B, Sk, Hk, D])");
  }
  if (q.heads % k.heads != 0)
    fail("query heads (" + std::to_string(q.heads) + ") must be a multiple of KV heads (" +
         std::to_string(k.heads) + ")");
  if (out.batch != q.batch || out.seq != q.seq || out.heads != q.heads || out.dim != q.dim)
    fail("out " + shape_string(out) + " must have the shape of q " + shape_string(q));
  return s;
}

void check_head_dim_cpu(int64_t head_dim) {
  if (head_dim < 1 || head_dim > 512)
    unsupported("head dim " + std::to_string(head_dim) +
                " is not supported by the CPU back-end (1..512)");
}

float resolve_softmax_scale(const AttentionOptions& opt, int64_t head_dim) {
  if (!opt.softmax_scale) return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  const float s = *opt.softmax_scale;
  if (!std::isfinite(s) || !(s > 0.f))
    fail("softmax_scale must be finite and positive (got " + std::to_string(s) + ")");
  return s;
}

}  // namespace intfa::detail
