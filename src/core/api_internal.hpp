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

}  // namespace intfa::detail
