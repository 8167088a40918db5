// cpu_attention_bench: times the CPU INT8 kernel (each ISA) against the
// library's float32 flash baseline on one problem, in the same process.
//
//   cpu_attention_bench [--b 1] [--h 16] [--hk H] [--sq 4096] [--sk 4096] [--d 128]
//                       [--causal] [--recipe intfa[,paper,...]] [--isa avx2,scalar,...]
//                       [--reps 3] [--kv-block 0]
//
// The INT8 kernel runs on already-quantized inputs (quantization is O(S·D),
// timed separately as "quantize"); the f32 path gets the float inputs. Times
// are medians of --reps runs after one warm-up. GOPS counts 4·D operations
// per visible (query, key) pair (Q·Kᵀ and P·V, a multiply-add = 2).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/api_internal.hpp"
#include "core/threading.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/isa.hpp"
#include "intfa/intfa.hpp"

using namespace intfa;

namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

double median_ms(const std::function<void()>& fn, int reps) {
  fn();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t B = 1, H = 16, Hk = 0, Sq = 4096, Sk = 4096, D = 128;
  bool causal = false;
  int reps = 3;
  int32_t kv_block = 0;
  std::string recipes = "intfa", isas;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--b") B = std::stoll(next());
    else if (a == "--h") H = std::stoll(next());
    else if (a == "--hk") Hk = std::stoll(next());
    else if (a == "--sq") Sq = std::stoll(next());
    else if (a == "--sk") Sk = std::stoll(next());
    else if (a == "--d") D = std::stoll(next());
    else if (a == "--causal") causal = true;
    else if (a == "--recipe") recipes = next();
    else if (a == "--isa") isas = next();
    else if (a == "--reps") reps = std::stoi(next());
    else if (a == "--kv-block") kv_block = std::stoi(next());
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of %s)\n", a.c_str(),
                   __FILE__);
      return 2;
    }
  }
  if (Hk == 0) Hk = H;
  std::vector<cpu::Isa> isa_list;
  if (isas.empty()) {
    for (cpu::Isa isa : {cpu::Isa::avx512_vnni, cpu::Isa::avx512, cpu::Isa::avx2})
      if (cpu::isa_supported(isa)) isa_list.push_back(isa);
    if (isa_list.empty()) isa_list.push_back(cpu::Isa::scalar);
  } else {
    for (const auto& n : split(isas)) isa_list.push_back(*cpu::parse_isa(n));
  }

  std::mt19937_64 rng(12345);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> q(static_cast<size_t>(B * Sq * H * D)), k(static_cast<size_t>(B * Sk * Hk * D)),
      v(k.size()), out(q.size());
  for (auto* x : {&q, &k, &v})
    for (float& e : *x) e = normal(rng);
  const auto qv = TensorView::bshd(q.data(), DType::f32, B, Sq, H, D);
  const auto kv = TensorView::bshd(k.data(), DType::f32, B, Sk, Hk, D);
  const auto vv = TensorView::bshd(v.data(), DType::f32, B, Sk, Hk, D);
  const auto ov = TensorView::bshd(out.data(), DType::f32, B, Sq, H, D);

  double pairs = 0;
  for (int64_t i = 0; i < Sq; ++i) {
    const int64_t lim = causal ? std::clamp<int64_t>(i + Sk - Sq + 1, 0, Sk) : Sk;
    pairs += static_cast<double>(lim);
  }
  pairs *= static_cast<double>(B * H);
  const double gop = pairs * 4.0 * static_cast<double>(D) / 1e9;
  std::printf("cpu_attention_bench: B=%lld H=%lld Hk=%lld Sq=%lld Sk=%lld D=%lld causal=%d, %d threads, "
              "detected ISA %s, %.1f GOP per call, median of %d\n",
              (long long)B, (long long)H, (long long)Hk, (long long)Sq, (long long)Sk, (long long)D,
              causal ? 1 : 0, detail::cpu_thread_count(), cpu::isa_name(cpu::detected_isa()), gop, reps);

  std::vector<double> f32_ms(4, NAN);
  for (cpu::Isa isa : isa_list) {
    cpu::set_forced_isa(isa);
    f32_ms[static_cast<int>(isa)] = median_ms(
        [&] { cpu::attention_f32_flash(qv, kv, vv, ov, nullptr, causal, std::nullopt, kv_block); },
        reps);
    const double ms = f32_ms[static_cast<int>(isa)];
    std::printf("  %-12s %-11s %9.1f ms  %7.1f GFLOPS\n", "f32-flash", cpu::isa_name(isa), ms,
                gop / ms * 1e3);
  }
  for (const auto& name : split(recipes)) {
    const Recipe recipe = parse_recipe(name);
    // Quantize once (CPU back-end, as attention() does), then time the kernel.
    std::vector<int8_t> q8(q.size()), k8(k.size()),
        vt(static_cast<size_t>(B * Hk * D * padded_kv_length(Sk)));
    std::vector<float> q_scale(static_cast<size_t>(B * H * Sq)), k_scale(static_cast<size_t>(B * Hk * Sk)),
        v_scale(static_cast<size_t>(B * Hk * D)), k_mean(v_scale.size()), lse_off(q_scale.size());
    std::vector<uint16_t> v16;
    QuantizedInputs in;
    in.recipe = recipe;
    in.q = TensorView::bshd(q8.data(), DType::i8, B, Sq, H, D);
    in.k = TensorView::bshd(k8.data(), DType::i8, B, Sk, Hk, D);
    const QuantizeOptions qo{Backend::cpu, nullptr};
    const double quant_ms = median_ms(
        [&] {
          if (recipe.smooth_k) channel_mean(kv, k_mean.data(), qo);
          quantize_per_token(kv, recipe.smooth_k ? k_mean.data() : nullptr, in.k, k_scale.data(), qo);
          quantize_q(qv, in.q, q_scale.data(), recipe.smooth_k ? k_mean.data() : nullptr, Hk,
                     recipe.smooth_k ? lse_off.data() : nullptr, qo);
          if (recipe.int8_v()) quantize_v(vv, recipe.v, vt.data(), v_scale.data(), qo);
        },
        1);
    in.q_scale = q_scale.data();
    in.k_scale = k_scale.data();
    in.lse_offset = recipe.smooth_k ? lse_off.data() : nullptr;
    if (recipe.int8_v()) {
      in.vt = vt.data();
      in.v_scale = v_scale.data();
    } else {
      in.v = vv;  // half-int8 with f32 inputs: V values as given (timing only)
    }
    AttentionOptions opt;
    opt.recipe = recipe;
    opt.causal = causal;
    opt.backend = Backend::cpu;
    opt.kv_block = kv_block;
    std::vector<float> unit;
    AttentionParams p = detail::build_params(
        in, ov, nullptr, opt, Backend::cpu,
        detail::Shape{B, H, Hk, Sq, Sk, D}, unit);
    if (p.kv_block == 0) p.kv_block = default_kv_block(Backend::cpu, recipe, D);
    std::printf("  %-12s quantize    %9.1f ms\n", name.c_str(), quant_ms);
    for (cpu::Isa isa : isa_list) {
      cpu::set_forced_isa(isa);
      const cpu::Isa ran = cpu::attention_isa(p);
      const double ms = median_ms([&] { cpu::attention_tiled(p); }, reps);
      const double f = f32_ms[static_cast<int>(isa)];
      std::printf("  %-12s %-11s %9.1f ms  %7.1f GOPS   %.2fx vs f32-flash/%s%s\n", name.c_str(),
                  cpu::isa_name(ran), ms, gop / ms * 1e3, f / ms, cpu::isa_name(isa),
                  ran != isa ? " (no vector kernel for this recipe)" : "");
    }
  }
  cpu::set_forced_isa(std::nullopt);
  return 0;
}
