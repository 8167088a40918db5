// The CPU runner of intfa-bench.
//
//   kernel_ms      median of intfa::attention_quantized on operands quantized
//                  once beforehand, exactly as intfa::attention quantizes them
//                  (src/core/api.cpp): channel_mean when the recipe smooths K,
//                  quantize_per_token for K, quantize_q, then quantize_v for
//                  int8 V or an fp16 copy of V for half-int8.
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
#include <cstring>
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

// IEEE binary16 bits of x, rounded to nearest even (what the library does when
// it keeps V in fp16 for half-int8; see docs/NUMERICS.md).
uint16_t float_to_half_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u;
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude >= 0x7f800000u)  // Inf or NaN
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x200u : 0u));
  if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to Inf
  if (magnitude < 0x38800000u) {
    // Subnormal half (or zero): the value in units of 2^-24, rounded to even.
    float m;
    const uint32_t abs_bits = magnitude;
    std::memcpy(&m, &abs_bits, sizeof m);
    const float units = m * 16777216.f;  // exact: a power-of-two scaling
    float rounded = std::nearbyint(units);  // default rounding mode: to even
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(rounded));
  }
  // Normal half: rebias the exponent, round the 13 dropped mantissa bits.
  const uint32_t rebased = magnitude - ((127u - 15u) << 23);
  const uint32_t dropped = rebased & 0x1fffu;
  uint32_t half = rebased >> 13;
  if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

// Operands of attention_quantized, each buffer next to its shape.
struct QuantizedOperands {
  std::vector<int8_t> q8;           // [B, Sq, H, D]
  std::vector<float> q_scale;       // [B, H, Sq]
  std::vector<float> lse_offset;    // [B, H, Sq], smooth-k only
  std::vector<int8_t> k8;           // [B, Sk, Hk, D]
  std::vector<float> k_scale;       // [B, Hk, Sk]
  std::vector<float> k_mean;        // [B, Hk, D], smooth-k only
  std::vector<int8_t> vt;           // V̂ᵀ [B, Hk, D, Sk_pad], int8 V only
  std::vector<float> v_scale;       // [B, Hk, D], int8 V only
  std::vector<uint16_t> v_half;     // [B, Sk, Hk, D] fp16 bits, half-int8 only
  QuantizedInputs inputs;           // views of the buffers above
};

QuantizedOperands quantize_operands(const Problem& p, const TensorView& q, const TensorView& k,
                                    const TensorView& v) {
  const int64_t B = p.batch, H = p.heads, Hk = p.kv_heads, Sq = p.seqlen_q, Sk = p.seqlen_k,
                D = p.head_dim;
  const Recipe& r = p.recipe;
  const QuantizeOptions cpu{Backend::cpu, nullptr};
  auto count = [](int64_t n) { return static_cast<size_t>(n); };
  QuantizedOperands ops;
  ops.q8.resize(count(B * Sq * H * D));
  ops.q_scale.resize(count(B * H * Sq));
  ops.k8.resize(count(B * Sk * Hk * D));
  ops.k_scale.resize(count(B * Hk * Sk));
  QuantizedInputs& in = ops.inputs;
  in.recipe = r;
  in.q = TensorView::bshd(ops.q8.data(), DType::i8, B, Sq, H, D);
  in.k = TensorView::bshd(ops.k8.data(), DType::i8, B, Sk, Hk, D);
  if (r.smooth_k) {
    ops.k_mean.resize(count(B * Hk * D));
    ops.lse_offset.resize(count(B * H * Sq));
    channel_mean(k, ops.k_mean.data(), cpu);
  }
  float* k_mean = r.smooth_k ? ops.k_mean.data() : nullptr;
  float* lse_offset = r.smooth_k ? ops.lse_offset.data() : nullptr;
  quantize_per_token(k, k_mean, in.k, ops.k_scale.data(), cpu);
  quantize_q(q, in.q, ops.q_scale.data(), k_mean, Hk, lse_offset, cpu);
  in.q_scale = ops.q_scale.data();
  in.k_scale = ops.k_scale.data();
  in.lse_offset = lse_offset;
  if (r.int8_v()) {
    ops.vt.resize(count(B * Hk * D * padded_kv_length(Sk)));
    ops.v_scale.resize(count(B * Hk * D));
    quantize_v(v, r.v, ops.vt.data(), ops.v_scale.data(), cpu);
    in.vt = ops.vt.data();
    in.v_scale = ops.v_scale.data();
  } else {
    // half-int8 keeps V in 16 bits; intfa::attention rounds f32 V to fp16.
    const float* src = p.v;
    ops.v_half.resize(count(B * Sk * Hk * D));
    std::transform(src, src + ops.v_half.size(), ops.v_half.begin(), float_to_half_bits);
    in.v = TensorView::bshd(ops.v_half.data(), DType::f16, B, Sk, Hk, D);
  }
  return ops;
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
      const QuantizedOperands ops = quantize_operands(p, q, k, v);
      result.kernel_ms = median_ms(warmup, repeats,
                                   [&] { attention_quantized(ops.inputs, out, nullptr, opt); });
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
