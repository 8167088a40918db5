// Random attention inputs for intfa-bench: fresh every run unless --seed is
// given (the seed is always reported so a run can be repeated).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace intfa::bench {

enum class Distribution {
  normal,   // every element of Q, K, V ~ N(0, 1)
  uniform,  // every element ~ U(-0.5, 0.5)
  outlier,  // N(0, 1) plus constant offsets on a few Q/K channels, as in the
            // keys of real LLMs (see outlier_channels and the offsets below)
};

// The outlier distribution adds, in every batch, head and token,
//   K[..., c_j] += kKeyOutlierOffset   * (-1)^j
//   Q[..., c_j] += kQueryOutlierOffset * (-1)^j
// on the channels c_j = (2j + 1) * D / 8, j = 0..3 (distinct ones for D < 8).
// V is plain N(0, 1). K's offsets are 16 standard deviations, so per-token K
// scales are set by 4 channels and the other channels keep few int8 levels
// unless K is smoothed.
inline constexpr float kKeyOutlierOffset = 16.f;
inline constexpr float kQueryOutlierOffset = 4.f;
std::vector<int64_t> outlier_channels(int64_t head_dim);

// Parses "normal", "uniform" or "outlier"; throws UsageError otherwise.
Distribution parse_distribution(std::string_view name);
const char* distribution_name(Distribution dist);
// The distributions for --help, one or more lines each, no trailing newline.
std::string distribution_help();

struct InputShape {
  int64_t batch = 1, heads = 1, kv_heads = 1, seqlen_q = 1, seqlen_k = 1, head_dim = 1;
};

struct Inputs {
  std::vector<float> q;  // [B, Sq, H, D]
  std::vector<float> k;  // [B, Sk, Hk, D]
  std::vector<float> v;  // [B, Sk, Hk, D]
};

// Draws Q, K and V (tensor i of the three with derive_seed(seed, i)) in
// pieces of kGeneratorChunk elements, each from its own std::mt19937_64
// seeded with derive_seed(tensor seed, piece), on several threads. The same
// seed and shape give the same inputs on any machine and thread count.
// (Until 2026-11-22 one generator drew everything in sequence, which took
// 15-45 s per call at S = 16k; seeds recorded before then give other inputs.)
inline constexpr size_t kGeneratorChunk = size_t{1} << 20;
Inputs generate_inputs(const InputShape& shape, Distribution dist, uint64_t seed);

// A seed from std::random_device (64 bits from two draws).
uint64_t fresh_seed();
// A well-mixed seed for sub-experiment `index` of a run with `seed`
// (splitmix64), so each configuration of a study gets independent inputs.
uint64_t derive_seed(uint64_t seed, uint64_t index);

}  // namespace intfa::bench
