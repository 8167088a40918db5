// ISA detection and selection (cpu/isa.hpp).
#include "cpu/isa.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/simd/exp2_data.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/simd/target.hpp"

#if INTFA_SIMD_X86
#include <cpuid.h>
#endif

namespace intfa::cpu {
namespace {

constexpr int kNoForce = -1;
std::atomic<int> g_forced{kNoForce};

bool cpu_has(Isa isa) {
#if INTFA_SIMD_X86
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the vector state.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
  const bool avx512 = avx2 && f16c && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw");
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2 && f16c;
    case Isa::avx512: return avx512;
    case Isa::avx512_vnni: return avx512 && __builtin_cpu_supports("avx512vnni");
  }
  return false;
#else
  return isa == Isa::scalar;
#endif
}

void require(Isa isa, const char* how) {
  if (!isa_supported(isa))
    throw Error(StatusCode::unsupported,
                std::string("CPU ISA '") + isa_name(isa) + "' was requested (" + how +
                    ") but this CPU does not support it; the best it supports is '" +
                    isa_name(detected_isa()) + "'");
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::avx512_vnni: return "avx512_vnni";
  }
  return "unknown";
}

std::optional<Isa> parse_isa(std::string_view name) {
  if (name == "auto") return std::nullopt;
  if (name == "scalar") return Isa::scalar;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  if (name == "avx512_vnni" || name == "avx512-vnni") return Isa::avx512_vnni;
  throw Error(StatusCode::invalid_argument,
              "unknown CPU ISA '" + std::string(name) +
                  "' (expected scalar, avx2, avx512, avx512_vnni or auto)");
}

bool isa_supported(Isa isa) {
  static const bool supported[4] = {cpu_has(Isa::scalar), cpu_has(Isa::avx2),
                                    cpu_has(Isa::avx512), cpu_has(Isa::avx512_vnni)};
  const int i = static_cast<int>(isa);
  return i >= 0 && i < 4 && supported[i];
}

Isa detected_isa() {
  for (Isa isa : {Isa::avx512_vnni, Isa::avx512, Isa::avx2})
    if (isa_supported(isa)) return isa;
  return Isa::scalar;
}

void set_forced_isa(std::optional<Isa> isa) {
  if (isa) require(*isa, "set_forced_isa");
  g_forced.store(isa ? static_cast<int>(*isa) : kNoForce);
}

std::optional<Isa> forced_isa() {
  const int v = g_forced.load();
  if (v == kNoForce) return std::nullopt;
  return static_cast<Isa>(v);
}

Isa active_isa() {
  if (auto f = forced_isa()) return *f;
  if (const char* env = std::getenv("INTFA_CPU_ISA"); env && *env) {
    if (auto isa = parse_isa(env)) {
      require(*isa, "INTFA_CPU_ISA");
      return *isa;
    }
  }
  return detected_isa();
}

Isa attention_isa(const AttentionParams& p) {
  const Isa isa = active_isa();
  return simd::int_kernel_supports(p) ? isa : Isa::scalar;
}

bool simd_exp2_matches_libm(Isa isa) {
  require(isa, "simd_exp2_matches_libm");
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return simd::exp2_vector_ok_avx2();
    case Isa::avx512:
    case Isa::avx512_vnni: return simd::exp2_vector_ok_avx512();
  }
  return false;
}

namespace simd {

int64_t exp2_check_sample(float* xs, int64_t capacity) {
  // Every 4093rd float in [-150, 0] (about 270,000), the boundaries and the
  // special values, padded to a multiple of 16 with zeros.
  std::vector<float> v;
  uint32_t lo = 0x80000000u, hi;
  const float m150 = kExp2fZeroBelow;
  std::memcpy(&hi, &m150, sizeof hi);
  for (uint64_t b = lo; b <= hi; b += 4093) {
    float x;
    const uint32_t u = static_cast<uint32_t>(b);
    std::memcpy(&x, &u, sizeof x);
    v.push_back(x);
  }
  for (float x : {0.f, -0.f, -1e-45f, -149.5f, -149.f, -150.f, -151.f, -126.f, -127.5f, -1.f,
                  -0.5f, -1.0f / 64, -1.0f / 32, -9.f, -std::numeric_limits<float>::infinity()})
    v.push_back(x);
  while (v.size() % 16) v.push_back(0.f);
  if (xs == nullptr) return static_cast<int64_t>(v.size());
  const int64_t n = std::min<int64_t>(capacity, static_cast<int64_t>(v.size())) / 16 * 16;
  std::memcpy(xs, v.data(), static_cast<size_t>(n) * sizeof(float));
  return n;
}

}  // namespace simd
}  // namespace intfa::cpu
