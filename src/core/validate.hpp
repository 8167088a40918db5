// Argument checks shared by the C++ and C APIs. Each throws
// Error(invalid_argument) with a message naming the argument and the values.
#pragma once

#include <initializer_list>
#include <string>

#include "intfa/intfa.hpp"

namespace intfa::detail {

[[noreturn]] void fail(const std::string& message);
[[noreturn]] void unsupported(const std::string& message);
std::string shape_string(const TensorView& t);

// A tensor argument: non-null, sizes >= 1, strides >= 0, last dim contiguous,
// pointer aligned to its element, dtype one of `allowed`.
void check_tensor(const TensorView& t, const char* name, std::initializer_list<DType> allowed);

// Shapes of one attention problem.
struct Shape {
  int64_t batch, heads, kv_heads, seqlen_q, seqlen_k, head_dim;
};
// q [B, Sq, H, D], k and v [B, Sk, Hk, D] (v may be null for int8 V), out [B, Sq, H, D].
Shape check_attention_shapes(const TensorView& q, const TensorView& k, const TensorView* v,
                             const TensorView& out);
void check_head_dim_cpu(int64_t head_dim);
float resolve_softmax_scale(const AttentionOptions& opt, int64_t head_dim);
void check_pointer(const void* ptr, const char* name, std::size_t alignment = 4);

}  // namespace intfa::detail
