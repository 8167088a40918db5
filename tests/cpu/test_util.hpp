// Shared helpers for the CPU test suites: fresh random inputs (the seed is
// printed so a failure can be replayed with INTFA_TEST_SEED), problem shapes,
// and owning buffers for the views the API takes.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "intfa/intfa.hpp"

namespace intfa::test {

// Sets an environment variable for a scope (restores the old value, or unsets).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

// One seed per test binary run: fresh unless INTFA_TEST_SEED is set.
inline uint64_t run_seed() {
  static const uint64_t seed = [] {
    uint64_t s = (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                 static_cast<uint64_t>(std::random_device{}());
    if (const char* env = std::getenv("INTFA_TEST_SEED"))
      s = static_cast<uint64_t>(std::strtoull(env, nullptr, 10));
    std::printf("INTFA_TEST_SEED=%llu (set it to replay this run)\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

// A generator for one test, derived from the run seed and the test's name.
inline std::mt19937_64 rng_for_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "";
  uint64_t h = run_seed();
  for (char c : name) h = h * 1099511628211ull ^ static_cast<unsigned char>(c);
  ::testing::Test::RecordProperty("seed", std::to_string(run_seed()));
  return std::mt19937_64(h);
}

// Round-trip bound of per-token INT8 quantization (docs/NUMERICS.md): the
// exact rule gives |x − x̂·s| ≤ s/2, and three fp32 roundings (inv = 127/amax,
// x·inv, s = amax/127), each a relative 2^-24, can move a value that sits near
// a rounding tie by at most 3·2^-24·|x| more. Evaluate |x − x̂·s| in double.
inline bool within_roundtrip_bound(float x, int code, float scale) {
  const double err = std::fabs(static_cast<double>(x) - static_cast<double>(code) * scale);
  return err <= 0.5 * scale + 3.0 * 0x1p-24 * std::fabs(static_cast<double>(x));
}

struct Shape {
  int64_t batch, heads, kv_heads, seqlen_q, seqlen_k, head_dim;
  std::string str() const {
    return "B=" + std::to_string(batch) + " H=" + std::to_string(heads) +
           " Hk=" + std::to_string(kv_heads) + " Sq=" + std::to_string(seqlen_q) +
           " Sk=" + std::to_string(seqlen_k) + " D=" + std::to_string(head_dim);
  }
};

enum class Dist { normal, uniform, outlier };

// Q, K, V as f32 [B, S, H, D] (bshd), filled from `dist`.
struct Inputs {
  Shape shape;
  std::vector<float> q, k, v;
  TensorView qv() const {
    return TensorView::bshd(q.data(), DType::f32, shape.batch, shape.seqlen_q, shape.heads,
                            shape.head_dim);
  }
  TensorView kv() const {
    return TensorView::bshd(k.data(), DType::f32, shape.batch, shape.seqlen_k, shape.kv_heads,
                            shape.head_dim);
  }
  TensorView vv() const {
    return TensorView::bshd(v.data(), DType::f32, shape.batch, shape.seqlen_k, shape.kv_heads,
                            shape.head_dim);
  }
};

inline Inputs make_inputs(const Shape& s, std::mt19937_64& rng, Dist dist = Dist::normal) {
  Inputs in{s, {}, {}, {}};
  in.q.resize(static_cast<size_t>(s.batch * s.seqlen_q * s.heads * s.head_dim));
  in.k.resize(static_cast<size_t>(s.batch * s.seqlen_k * s.kv_heads * s.head_dim));
  in.v.resize(in.k.size());
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  auto fill = [&](std::vector<float>& x) {
    for (float& e : x) e = dist == Dist::uniform ? uniform(rng) : normal(rng);
  };
  fill(in.q), fill(in.k), fill(in.v);
  if (dist == Dist::outlier) {
    // A few channels with a large common offset, as in real LLM keys.
    for (int64_t i = 0; i < static_cast<int64_t>(in.k.size()); ++i) {
      const int64_t d = i % s.head_dim;
      if (d % 16 == 3) in.k[static_cast<size_t>(i)] += 8.f;
    }
  }
  return in;
}

inline Shape random_shape(std::mt19937_64& rng, int64_t max_seq = 150) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const int64_t kv_heads = pick(1, 3);
  const int64_t ratio = pick(1, 3);
  const int64_t dims[] = {1, 3, 16, 17, 32, 48, 64, 100, 128};
  return Shape{pick(1, 2), kv_heads * ratio, kv_heads, pick(1, max_seq), pick(1, max_seq),
               dims[pick(0, 8)]};
}

}  // namespace intfa::test
