// Non-finite inputs on the GPU. The CPU back-end rejects NaN/Inf with
// Error(nonfinite_input); on the GPU the quantization kernels test every input
// element and, on a hit, atomicMin a 64-bit code into a device flag:
//   code = call << 59 | ((b · S + s) · H + h)
// (call = the index of the quantization call within the current check, so the
// first failing call and its first (batch, token, head) win). Reading the flag
// needs the kernels to have finished: one stream synchronization per check.
//   * A quantization entry point on its own checks once at its end.
//   * Inside a deferred scope (the one-call attention(): see
//     cuda_backend::DeferredFiniteCheck) the calls only register themselves and
//     the scope checks once, before the attention kernel is queued.
// The flag and a pinned host mirror are per host thread and device.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace intfa::cuda {

inline constexpr unsigned long long kFlagClear = ~0ull;
inline constexpr int kFlagCallShift = 59;

// What the quantization kernels write into.
struct FlagSlot {
  unsigned long long* flag = nullptr;
  unsigned long long call_bits = 0;  // call << kFlagCallShift
};

// Registers a quantization call on `what` (an operand name for the message)
// with S tokens and H heads; returns the slot its kernels report to.
FlagSlot begin_finite_check(const char* what, int64_t seq, int64_t heads, cudaStream_t stream);
// Ends the call: outside a deferred scope, synchronizes and throws
// Error(nonfinite_input) if a kernel of this call saw NaN/Inf.
void end_finite_check(cudaStream_t stream);

void begin_deferred_scope(cudaStream_t stream);
bool deferred_scope_active();
// check: synchronize and throw on a hit. Always leaves the deferred scope.
void end_deferred_scope(cudaStream_t stream, bool check);

}  // namespace intfa::cuda
