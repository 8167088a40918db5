// Helpers for the SIMD kernel tests: fresh random inputs every run (the seed
// is printed; INTFA_TEST_SEED replays it), the ISAs to try, and a guard that
// restores automatic ISA selection.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cpu/isa.hpp"
#include "cpu/test_util.hpp"
#include "intfa/intfa.hpp"

namespace intfa::simd_test {

// Fresh seed per run, replayable with INTFA_TEST_SEED (shared with tests/cpu).
using intfa::test::rng_for_test;
using intfa::test::run_seed;

inline const cpu::Isa kVectorIsas[] = {cpu::Isa::avx2, cpu::Isa::avx512, cpu::Isa::avx512_vnni};
inline const cpu::Isa kAllIsas[] = {cpu::Isa::scalar, cpu::Isa::avx2, cpu::Isa::avx512,
                                    cpu::Isa::avx512_vnni};

// Forces an ISA for a scope; restores automatic selection afterwards.
class ForceIsa {
 public:
  explicit ForceIsa(cpu::Isa isa) { cpu::set_forced_isa(isa); }
  ~ForceIsa() { cpu::set_forced_isa(std::nullopt); }
  ForceIsa(const ForceIsa&) = delete;
  ForceIsa& operator=(const ForceIsa&) = delete;
};

struct Dims {
  int64_t batch, heads, kv_heads, seqlen_q, seqlen_k, head_dim;
  std::string str() const {
    return "B=" + std::to_string(batch) + " H=" + std::to_string(heads) +
           " Hk=" + std::to_string(kv_heads) + " Sq=" + std::to_string(seqlen_q) +
           " Sk=" + std::to_string(seqlen_k) + " D=" + std::to_string(head_dim);
  }
};

inline int64_t pick(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// Random shapes: odd lengths, Sq != Sk, GQA/MQA, D from 1 to 512 (mostly not
// multiples of 16 or 32).
inline Dims random_dims(std::mt19937_64& rng, int64_t max_seq = 130) {
  const int64_t dims[] = {1, 2, 3, 7, 16, 17, 31, 33, 48, 64, 65, 100, 128, 129, 250};
  const int64_t kv = pick(rng, 1, 3);
  return Dims{pick(rng, 1, 2), kv * pick(rng, 1, 3), kv, pick(rng, 1, max_seq),
              pick(rng, 1, max_seq), dims[pick(rng, 0, 14)]};
}

inline std::vector<float> normal_values(std::mt19937_64& rng, int64_t n, float scale = 1.f) {
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace intfa::simd_test
