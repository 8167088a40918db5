#include "common/finite_check.hpp"

#include <string>
#include <unordered_map>

#include "common/cuda_check.hpp"
#include "intfa/types.hpp"

namespace intfa::cuda {
namespace {

struct DeviceFlag {
  unsigned long long* device = nullptr;
  unsigned long long* host = nullptr;  // pinned mirror
};

struct CallInfo {
  const char* what = "";
  int64_t seq = 0, heads = 0;
};

constexpr int kMaxCalls = 16;  // call index fits in the 5 bits above kFlagCallShift

struct ThreadState {
  std::unordered_map<int, DeviceFlag> flags;  // by device ordinal; never freed (a few bytes)
  bool deferred = false;
  int calls = 0;
  CallInfo info[kMaxCalls];
};

ThreadState& state() {
  thread_local ThreadState s;
  return s;
}

DeviceFlag& flag_for_current_device() {
  int device = 0;
  INTFA_CUDA_CHECK(cudaGetDevice(&device));
  DeviceFlag& f = state().flags[device];
  if (f.device == nullptr) {
    INTFA_CUDA_CHECK(cudaMalloc(&f.device, sizeof(unsigned long long)));
    INTFA_CUDA_CHECK(cudaMallocHost(&f.host, sizeof(unsigned long long)));
    INTFA_CUDA_CHECK(cudaMemset(f.device, 0xff, sizeof(unsigned long long)));
    INTFA_CUDA_CHECK(cudaDeviceSynchronize());
  }
  return f;
}

void reset(cudaStream_t stream) {
  INTFA_CUDA_CHECK(cudaMemsetAsync(flag_for_current_device().device, 0xff,
                                   sizeof(unsigned long long), stream));
  state().calls = 0;
}

// One synchronization: copy the flag, wait, decode.
void sync_and_throw(cudaStream_t stream) {
  DeviceFlag& f = flag_for_current_device();
  INTFA_CUDA_CHECK(
      cudaMemcpyAsync(f.host, f.device, sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream));
  INTFA_CUDA_CHECK(cudaStreamSynchronize(stream));
  const unsigned long long code = *f.host;
  if (code == kFlagClear) return;
  ThreadState& s = state();
  const int call = static_cast<int>(code >> kFlagCallShift);
  const unsigned long long linear = code & ((1ull << kFlagCallShift) - 1);
  reset(stream);
  const CallInfo info = call < kMaxCalls ? s.info[call] : CallInfo{};
  std::string where;
  if (info.seq > 0 && info.heads > 0) {
    const unsigned long long h = linear % static_cast<unsigned long long>(info.heads);
    const unsigned long long bs = linear / static_cast<unsigned long long>(info.heads);
    const unsigned long long tok = bs % static_cast<unsigned long long>(info.seq);
    const unsigned long long b = bs / static_cast<unsigned long long>(info.seq);
    where = " at batch " + std::to_string(b) + ", token " + std::to_string(tok) + ", head " +
            std::to_string(h);
  }
  throw Error(StatusCode::nonfinite_input,
              std::string(info.what) + " contains NaN or Inf" + where +
                  " (intfa rejects non-finite inputs; see docs/NUMERICS.md)");
}

}  // namespace

FlagSlot begin_finite_check(const char* what, int64_t seq, int64_t heads, cudaStream_t stream) {
  ThreadState& s = state();
  DeviceFlag& f = flag_for_current_device();
  if (!s.deferred) reset(stream);
  const int call = s.calls < kMaxCalls ? s.calls++ : kMaxCalls - 1;
  s.info[call] = CallInfo{what, seq, heads};
  return FlagSlot{f.device, static_cast<unsigned long long>(call) << kFlagCallShift};
}

void end_finite_check(cudaStream_t stream) {
  if (!state().deferred) sync_and_throw(stream);
}

bool deferred_scope_active() { return state().deferred; }

void begin_deferred_scope(cudaStream_t stream) {
  reset(stream);
  state().deferred = true;
}

void end_deferred_scope(cudaStream_t stream, bool check) {
  ThreadState& s = state();
  if (!s.deferred) return;
  s.deferred = false;
  if (check) sync_and_throw(stream);
}

}  // namespace intfa::cuda
