// The CUDA runner of intfa-bench.
//
// The f32 host problem is converted to fp16 on the host (round to nearest
// even) and uploaded once; the output is fp16 on the device, copied back as
// f32. Timing with CUDA events around each call on one stream, medians:
//   kernel_ms      intfa::attention_quantized on operands quantized once
//                  beforehand on the GPU by intfa::quantize, as
//                  intfa::attention quantizes them (channel_mean when the
//                  recipe smooths K, per-token K and Q, int8 V̂ᵀ in the order
//                  intfa::attention_vt_order gives, so the same kernel runs
//                  with no reordering; fp16 V as is for half-int8).
//   quantize_ms    that intfa::quantize call alone (its kernels, V's on a
//                  side stream, and its one synchronization for the
//                  non-finite check), into the buffers allocated beforehand.
//   end_to_end_ms  one intfa::attention call from the fp16 device inputs:
//                  quantization + attention, including its scratch allocation
//                  (stream-ordered) and its one stream synchronization for the
//                  non-finite check (docs/PERF.md).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel.hpp"
#include "runner.hpp"

namespace intfa::bench {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw Error(StatusCode::cuda_error,
                std::string("intfa-bench CUDA runner: ") + what + ": " + cudaGetErrorString(e));
}

// IEEE binary16 bits, round to nearest even (as the library rounds).
uint16_t half_bits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const uint32_t sign = (bits >> 16) & 0x8000u, mag = bits & 0x7fffffffu;
  if (mag >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0u));
  if (mag >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (mag < 0x38800000u) {
    float m;
    std::memcpy(&m, &mag, sizeof m);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(m * 16777216.f)));
  }
  const uint32_t rounded = mag + 0x0fffu + ((mag >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu,
                 m = h & 0x3ffu;
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  const uint32_t bits = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

class DeviceMemory {
 public:
  explicit DeviceMemory(size_t bytes) { check(cudaMalloc(&ptr_, bytes > 0 ? bytes : 1), "cudaMalloc"); }
  ~DeviceMemory() { cudaFree(ptr_); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  template <typename T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }

 private:
  void* ptr_ = nullptr;
};

std::unique_ptr<DeviceMemory> upload_half(const float* src, size_t n) {
  std::vector<uint16_t> host(n);
  parallel(n, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) host[i] = half_bits(src[i]);
  });
  auto d = std::make_unique<DeviceMemory>(n * 2);
  check(cudaMemcpy(d->get(), host.data(), n * 2, cudaMemcpyHostToDevice), "upload");
  return d;
}

template <typename Call>
double median_ms(cudaStream_t stream, int warmup, int repeats, Call&& call) {
  for (int i = 0; i < warmup; ++i) call();
  check(cudaStreamSynchronize(stream), "warm-up");
  std::vector<cudaEvent_t> events(static_cast<size_t>(2 * repeats));
  for (auto& e : events) check(cudaEventCreate(&e), "cudaEventCreate");
  for (int i = 0; i < repeats; ++i) {
    check(cudaEventRecord(events[static_cast<size_t>(2 * i)], stream), "cudaEventRecord");
    call();
    check(cudaEventRecord(events[static_cast<size_t>(2 * i + 1)], stream), "cudaEventRecord");
  }
  check(cudaStreamSynchronize(stream), "timed calls");
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    float ms = 0.f;
    check(cudaEventElapsedTime(&ms, events[static_cast<size_t>(2 * i)], events[static_cast<size_t>(2 * i + 1)]),
          "cudaEventElapsedTime");
    times.push_back(ms);
  }
  for (auto& e : events) cudaEventDestroy(e);
  std::sort(times.begin(), times.end());
  const size_t n = times.size();
  return n == 0 ? NAN : n % 2 == 1 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
}

class CudaRunner final : public Runner {
 public:
  CudaRunner() {
    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    device_ = std::string(prop.name) + " sm" + std::to_string(prop.major) + std::to_string(prop.minor);
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }
  ~CudaRunner() override { cudaStreamDestroy(stream_); }

  Backend backend() const override { return Backend::cuda; }

  // The int8 Q/K recipes the mma.sync kernels implement: int8 V with int8 or
  // uint8 P, or fp16 V with fp16 P (half-int8).
  bool supports(const Recipe& r) const override {
    if (!r.int8_qk()) return false;
    if (r.int8_v()) return r.p == PFormat::int8_running_max || r.p == PFormat::uint8_block_max;
    return r.v == VFormat::fp16 && r.p == PFormat::fp16;
  }

  RunResult run(const Problem& p, int warmup, int repeats) override {
    const int64_t B = p.batch, H = p.heads, Hk = p.kv_heads, Sq = p.seqlen_q, Sk = p.seqlen_k,
                  D = p.head_dim;
    const auto n = [](int64_t x) { return static_cast<size_t>(x); };
    const Recipe& r = p.recipe;
    auto q16 = upload_half(p.q, n(B * Sq * H * D));
    auto k16 = upload_half(p.k, n(B * Sk * Hk * D));
    auto v16 = upload_half(p.v, n(B * Sk * Hk * D));
    DeviceMemory out(n(B * Sq * H * D) * 2);
    const auto q = TensorView::bshd(q16->get(), DType::f16, B, Sq, H, D);
    const auto k = TensorView::bshd(k16->get(), DType::f16, B, Sk, Hk, D);
    const auto v = TensorView::bshd(v16->get(), DType::f16, B, Sk, Hk, D);
    const auto o = TensorView::bshd(out.get(), DType::f16, B, Sq, H, D);
    AttentionOptions opt;
    opt.causal = p.causal;
    opt.recipe = r;
    opt.backend = Backend::cuda;
    opt.kv_block = p.kv_block;
    opt.stream = stream_;
    // The V̂ᵀ order intfa::attention quantizes in for this problem.
    const VtOrder vt_order = attention_vt_order(q, k, v, o, nullptr, opt);

    RunResult result;
    {
      // Operands quantized once, by intfa::quantize into device buffers.
      const QuantizedSizes sizes = quantized_sizes(B, H, Hk, Sq, Sk, D, r, DType::f16);
      DeviceMemory q8(n(sizes.q8)), k8(n(sizes.k8)), q_scale(n(sizes.q_scale) * 4),
          k_scale(n(sizes.k_scale) * 4), k_mean(n(sizes.k_mean) * 4),
          lse_offset(n(sizes.lse_offset) * 4), vt(n(sizes.vt)), v_scale(n(sizes.v_scale) * 4),
          v_fp16(n(sizes.v16) * 2);
      const auto used = [](const DeviceMemory& m, int64_t count) {
        return count > 0 ? m.get() : nullptr;
      };
      QuantizedBuffers buf;
      buf.q8 = static_cast<int8_t*>(used(q8, sizes.q8));
      buf.k8 = static_cast<int8_t*>(used(k8, sizes.k8));
      buf.q_scale = static_cast<float*>(used(q_scale, sizes.q_scale));
      buf.k_scale = static_cast<float*>(used(k_scale, sizes.k_scale));
      buf.k_mean = static_cast<float*>(used(k_mean, sizes.k_mean));
      buf.lse_offset = static_cast<float*>(used(lse_offset, sizes.lse_offset));
      buf.vt = static_cast<int8_t*>(used(vt, sizes.vt));
      buf.v_scale = static_cast<float*>(used(v_scale, sizes.v_scale));
      buf.v16 = static_cast<uint16_t*>(used(v_fp16, sizes.v16));
      const QuantizedInputs in =
          quantize(q, k, v, r, buf, QuantizeOptions{Backend::cuda, stream_, vt_order});
      result.kernel_ms = median_ms(stream_, warmup, repeats,
                                   [&] { attention_quantized(in, o, nullptr, opt); });
      result.quantize_ms = median_ms(stream_, warmup, repeats, [&] {
        quantize(q, k, v, r, buf, QuantizeOptions{Backend::cuda, stream_, vt_order});
      });
    }
    result.end_to_end_ms =
        median_ms(stream_, warmup, repeats, [&] { attention(q, k, v, o, nullptr, opt); });

    std::vector<uint16_t> host(n(B * Sq * H * D));
    check(cudaMemcpy(host.data(), out.get(), host.size() * 2, cudaMemcpyDeviceToHost), "download");
    result.out.resize(host.size());
    parallel(host.size(), [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) result.out[i] = half_to_float(host[i]);
    });
    const int32_t block = p.kv_block > 0 ? p.kv_block : default_kv_block(Backend::cuda, r, D);
    // interleaved16 V̂ᵀ runs the Hopper wgmma kernel, natural the mma.sync one.
    const bool wgmma = r.int8_v() && vt_order == VtOrder::interleaved16;
    result.detail = "cuda " + device_ + (wgmma ? " wgmma" : " mma.sync") + " kv_block " +
                    std::to_string(block) +
                    (r.int8_v() ? std::string(" vt ") + vt_order_name(vt_order) : "");
    return result;
  }

 private:
  std::string device_;
  cudaStream_t stream_ = nullptr;
};

}  // namespace

// nullptr when no CUDA device is visible (intfa-bench then says so).
std::unique_ptr<Runner> make_cuda_runner() {
  if (!cuda_available()) return nullptr;
  return std::make_unique<CudaRunner>();
}

}  // namespace intfa::bench
