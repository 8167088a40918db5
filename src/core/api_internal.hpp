// Internal pieces of the API layer that tests (and bindings) may reuse.
#pragma once

#include <vector>

#include "core/validate.hpp"
#include "intfa/intfa.hpp"

namespace intfa::detail {

// The AttentionParams that attention_quantized() hands to a back-end, for
// validated inputs. `unit_scales` receives the all-ones V scales that float V
// uses on the CPU (kept alive by the caller).
AttentionParams build_params(const QuantizedInputs& in, const TensorView& out, float* lse,
                             const AttentionOptions& opt, Backend backend, const Shape& shape,
                             std::vector<float>& unit_scales);

// Params for attention on float operands (f32/f16/bf16 Q, K, V without
// scales: the float baselines and the CPU's float32 flash path). The caller
// sets q_scale, k_scale and v_scale.
AttentionParams float_operand_params(const TensorView& q, const TensorView& k, const TensorView& v,
                                     const TensorView& out, float* lse,
                                     const AttentionOptions& opt, const Shape& shape);

}  // namespace intfa::detail
