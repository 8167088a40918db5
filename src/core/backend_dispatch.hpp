// The interface the API layer calls for the CUDA back-end. Implemented in
// src/cuda/ when intfa is built with CUDA, and by src/core/cuda_unavailable.cpp
// otherwise (every call then throws Error(backend_unavailable)).
#pragma once

#include <cstddef>
#include <cstdint>

#include "intfa/params.hpp"
#include "intfa/types.hpp"

namespace intfa::cuda_backend {

bool built();                            // compiled with CUDA
bool available();                        // built and a device is visible
bool is_device_pointer(const void* ptr);  // device or managed memory
int32_t default_kv_block(const Recipe& recipe, int64_t head_dim);
// Throws Error(unsupported) with the reason when the kernels cannot run this.
void check_supported(const AttentionParams& params);

// Stream-ordered device scratch for the one-call API.
void* allocate(std::size_t bytes, void* stream);
void release(void* ptr, void* stream);

void channel_mean(const TensorView& k, float* mean, void* stream);
void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale, void* stream);
void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset, void* stream);
void quantize_v(const TensorView& v, VFormat format, VtOrder order, int8_t* vt, float* scale,
                void* stream);
// The V̂ᵀ token order the fastest kernel of the current device reads:
// interleaved16 on sm_90 when the Hopper kernels are built (and the
// environment variable INTFA_CUDA_KERNEL is not "sm80"), natural otherwise.
VtOrder default_vt_order();
// The V̂ᵀ order whose kernel runs `params` fastest (params.v_token_order is
// ignored): interleaved16 when a Hopper kernel supports these params on the
// current device, natural otherwise.
VtOrder vt_order_for(const AttentionParams& params);
// Whether the mma.sync kernel has an instantiation for `params` (recipe, head
// dim, key block). It lacks one for intfa at D = 256 with 128-key blocks, the
// Hopper kernel's default there, so natural V̂ᵀ for such a call is reordered
// to interleaved16 rather than rejected.
bool mma_sync_has_kernel(const AttentionParams& params);
// Copies `rows` contiguous V̂ᵀ rows of seq_padded bytes (a multiple of 16;
// src and dst 16-byte aligned, not overlapping) from order `from` to order
// `to` (stream-ordered, no synchronization).
void reorder_vt(const int8_t* src, VtOrder from, int8_t* dst, VtOrder to, int64_t rows,
                int64_t seq_padded, void* stream);
void attention(const AttentionParams& params);

// Non-finite inputs: the CUDA quantization kernels raise a device flag; each
// quantization entry point synchronizes its stream once to read it and throws
// Error(nonfinite_input). Between begin and end(check = true) the entry points
// only register themselves and end() reads the flag once for all of them (one
// synchronization per one-call attention()). end(check = false) only leaves
// the deferred mode. No-ops without CUDA.
void begin_deferred_finite_check(void* stream);
void end_deferred_finite_check(void* stream, bool check);
// Whether this host thread is inside such a deferred scope.
bool finite_check_deferred();

// Queues work on a second stream of this host thread and device, ordered
// after what `stream` holds now (fork), so that two memory-bound kernel
// chains share the DRAM bandwidth; join() makes `stream` wait for it (the
// destructor joins too). Inactive (or without CUDA), get() is `stream`.
// The side stream and its two events are made once per host thread and
// device and kept.
class SideStream {
 public:
  SideStream(bool active, void* stream);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;
  void* get() const { return side_; }
  void join();

 private:
  void* main_;
  void* side_;
  void* join_event_ = nullptr;
};

class DeferredFiniteCheck {
 public:
  DeferredFiniteCheck(bool active, void* stream) : active_(active), stream_(stream) {
    if (active_) begin_deferred_finite_check(stream_);
  }
  ~DeferredFiniteCheck() {
    if (active_) end_deferred_finite_check(stream_, false);
  }
  DeferredFiniteCheck(const DeferredFiniteCheck&) = delete;
  DeferredFiniteCheck& operator=(const DeferredFiniteCheck&) = delete;
  // Throws Error(nonfinite_input) if any deferred quantization saw NaN/Inf.
  void check() {
    if (active_) {
      active_ = false;
      end_deferred_finite_check(stream_, true);
    }
  }

 private:
  bool active_;
  void* stream_;
};

}  // namespace intfa::cuda_backend
