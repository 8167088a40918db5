// The CUDA back-end of a build without CUDA: every entry point explains why it
// cannot run. `auto` never resolves to it.
#include "core/backend_dispatch.hpp"

namespace intfa::cuda_backend {
namespace {
[[noreturn]] void unavailable() {
  throw Error(StatusCode::backend_unavailable,
              "the CUDA back-end is not available: intfa was built without CUDA "
              "(configure on a machine with the CUDA toolkit to enable it)");
}
}  // namespace

bool built() { return false; }
bool available() { return false; }
bool is_device_pointer(const void*) { return false; }
int32_t default_kv_block(const Recipe&, int64_t) { unavailable(); }
void check_supported(const AttentionParams&) { unavailable(); }
void* allocate(std::size_t, void*) { unavailable(); }
void release(void*, void*) {}
void channel_mean(const TensorView&, float*, void*) { unavailable(); }
void quantize_per_token(const TensorView&, const float*, const TensorView&, float*, void*) {
  unavailable();
}
void quantize_q(const TensorView&, const TensorView&, float*, const float*, int64_t, float*,
                void*) {
  unavailable();
}
void quantize_v(const TensorView&, VFormat, VtOrder, int8_t*, float*, void*) { unavailable(); }
VtOrder default_vt_order() { return VtOrder::natural; }
VtOrder vt_order_for(const AttentionParams&) { return VtOrder::natural; }
bool mma_sync_has_kernel(const AttentionParams&) { return false; }
void reorder_vt(const int8_t*, VtOrder, int8_t*, VtOrder, int64_t, int64_t, void*) {
  unavailable();
}
void attention(const AttentionParams&) { unavailable(); }
void begin_deferred_finite_check(void*) {}
void end_deferred_finite_check(void*, bool) {}
bool finite_check_deferred() { return false; }
SideStream::SideStream(bool, void* stream) : main_(stream), side_(stream) {}
SideStream::~SideStream() = default;
void SideStream::join() {}

}  // namespace intfa::cuda_backend
