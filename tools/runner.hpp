// How intfa-bench runs one problem on one back-end. The CPU runner lives in
// tools/runner_cpu.cpp; the CUDA runner in tools/runner_cuda.cpp (built only
// with CUDA; it times with CUDA events).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "intfa/intfa.hpp"

namespace intfa::bench {

struct Problem {
  int64_t batch = 1, heads = 16, kv_heads = 16, seqlen_q = 2048, seqlen_k = 2048, head_dim = 128;
  bool causal = false;
  Recipe recipe = Recipe::intfa();
  int32_t kv_block = 0;  // 0: back-end default
  // Host inputs, f32, contiguous [B, S, H, D] (bshd). A GPU runner converts
  // them to fp16 on the device before timing (end-to-end = from fp16 inputs).
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
};

struct RunResult {
  std::vector<float> out;  // host, f32, [B, Sq, H, D]
  // Medians over the timed repeats, milliseconds. kernel_ms: attention on
  // already-quantized inputs; quantize_ms: intfa::quantize alone, into
  // buffers allocated beforehand; end_to_end_ms: one intfa::attention call
  // (its scratch allocation, quantization, attention). NaN where a number
  // does not apply.
  double kernel_ms = NAN;
  double quantize_ms = NAN;
  double end_to_end_ms = NAN;
  std::string detail;  // e.g. "cpu 2 threads" or "cuda NVIDIA H100 sm90 mma.sync"
};

class Runner {
 public:
  virtual ~Runner() = default;
  virtual Backend backend() const = 0;
  // Whether this runner can compute the recipe (CUDA: int8 Q/K recipes only).
  virtual bool supports(const Recipe& recipe) const = 0;
  virtual RunResult run(const Problem& problem, int warmup, int repeats) = 0;
};

std::unique_ptr<Runner> make_cpu_runner();
// nullptr when intfa was built without CUDA or no CUDA device is visible.
std::unique_ptr<Runner> make_cuda_runner();

}  // namespace intfa::bench
