// The CPU runner of intfa-bench.
//
//   kernel_ms      median of intfa::attention_quantized on operands quantized
//                  once beforehand with intfa::HostQuantized (intfa::quantize,
//                  the same routine intfa::attention uses).
//                  Float baselines (fp16, fp8-tensor) have no separate kernel
//                  entry point in the public API, so their kernel_ms is NaN
//                  (intfa-bench then reports end_to_end_ms as the time).
//   end_to_end_ms  median of one intfa::attention call from the f32 inputs.
//
// Both are wall-clock medians (std::chrono::steady_clock) of `repeats` calls
// after `warmup` untimed calls.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "runner.hpp"

namespace intfa::bench {
namespace {

template <typename Call>
double median_ms(int warmup, int repeats, Call&& call) {
  for (int i = 0; i < warmup; ++i) call();
  std::vector<double> times;
  times.reserve(static_cast<size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    call();
    const auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

int worker_threads() {
  // Mirrors the library's rule (src/core/threading.cpp) for the detail text.
  if (const char* env = std::getenv("INTFA_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

class CpuRunner final : public Runner {
 public:
  Backend backend() const override { return Backend::cpu; }
  bool supports(const Recipe&) const override { return true; }

  RunResult run(const Problem& p, int warmup, int repeats) override {
    const auto q = TensorView::bshd(p.q, DType::f32, p.batch, p.seqlen_q, p.heads, p.head_dim);
    const auto k = TensorView::bshd(p.k, DType::f32, p.batch, p.seqlen_k, p.kv_heads, p.head_dim);
    const auto v = TensorView::bshd(p.v, DType::f32, p.batch, p.seqlen_k, p.kv_heads, p.head_dim);
    RunResult result;
    result.out.resize(static_cast<size_t>(p.batch * p.seqlen_q * p.heads * p.head_dim));
    const auto out =
        TensorView::bshd(result.out.data(), DType::f32, p.batch, p.seqlen_q, p.heads, p.head_dim);
    AttentionOptions opt;
    opt.causal = p.causal;
    opt.recipe = p.recipe;
    opt.backend = Backend::cpu;
    opt.kv_block = p.kv_block;

    std::vector<float> kernel_out;  // [B, Sq, H, D]
    if (p.recipe.int8_qk()) {
      const HostQuantized quantized(q, k, v, p.recipe);  // as intfa::attention quantizes
      result.kernel_ms = median_ms(warmup, repeats, [&] {
        attention_quantized(quantized.inputs(), out, nullptr, opt);
      });
      kernel_out = result.out;
    }
    result.end_to_end_ms =
        median_ms(warmup, repeats, [&] { attention(q, k, v, out, nullptr, opt); });
    // Same operands, same kernel: anything else means this runner does not
    // quantize as intfa::attention does, and kernel_ms times something else.
    if (!kernel_out.empty() && kernel_out != result.out)
      std::cerr << "intfa-bench: warning: attention_quantized and attention disagree for recipe "
                << recipe_name(p.recipe) << " (the kernel timing may not be representative)\n";
    result.detail = "cpu " + std::to_string(worker_threads()) + " threads";
    return result;
  }
};

}  // namespace

std::unique_ptr<Runner> make_cpu_runner() { return std::make_unique<CpuRunner>(); }

}  // namespace intfa::bench
