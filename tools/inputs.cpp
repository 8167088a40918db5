#include "inputs.hpp"

#include <algorithm>
#include <random>

#include "cli_args.hpp"
#include "parallel.hpp"

namespace intfa::bench {

namespace {

enum class Operand { query, key, value };

// Fills one [B, S, heads, D] tensor in memory order, in pieces of
// kGeneratorChunk elements drawn in parallel, piece c from its own generator
// seeded with derive_seed(seed, c).
void fill(std::vector<float>& x, int64_t head_dim, Distribution dist, Operand operand,
          uint64_t seed) {
  const size_t chunks = (x.size() + kGeneratorChunk - 1) / kGeneratorChunk;
  parallel(chunks, [&](size_t first, size_t last) {
    for (size_t c = first; c < last; ++c) {
      std::mt19937_64 rng(derive_seed(seed, c));
      float* begin = x.data() + c * kGeneratorChunk;
      float* end = x.data() + std::min(x.size(), (c + 1) * kGeneratorChunk);
      if (dist == Distribution::uniform) {
        std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
        for (float* value = begin; value != end; ++value) *value = uniform(rng);
      } else {
        std::normal_distribution<float> normal(0.f, 1.f);
        for (float* value = begin; value != end; ++value) *value = normal(rng);
      }
    }
  });
  if (dist != Distribution::outlier || operand == Operand::value) return;
  const float offset = operand == Operand::key ? kKeyOutlierOffset : kQueryOutlierOffset;
  const std::vector<int64_t> channels = outlier_channels(head_dim);
  for (size_t row = 0; row < x.size(); row += static_cast<size_t>(head_dim))
    for (size_t j = 0; j < channels.size(); ++j)
      x[row + static_cast<size_t>(channels[j])] += j % 2 == 0 ? offset : -offset;
}

}  // namespace

std::vector<int64_t> outlier_channels(int64_t head_dim) {
  std::vector<int64_t> channels;
  for (int64_t j = 0; j < 4; ++j) {
    const int64_t c = (2 * j + 1) * head_dim / 8;
    if (std::find(channels.begin(), channels.end(), c) == channels.end()) channels.push_back(c);
  }
  return channels;
}

Distribution parse_distribution(std::string_view name) {
  if (name == "normal") return Distribution::normal;
  if (name == "uniform") return Distribution::uniform;
  if (name == "outlier") return Distribution::outlier;
  throw UsageError("unknown distribution '" + std::string(name) +
                   "' (expected normal, uniform or outlier)");
}

const char* distribution_name(Distribution dist) {
  switch (dist) {
    case Distribution::normal: return "normal";
    case Distribution::uniform: return "uniform";
    case Distribution::outlier: return "outlier";
  }
  return "unknown";
}

std::string distribution_help() {
  return "normal   Q, K, V ~ N(0, 1)\n"
         "uniform  Q, K, V ~ U(-0.5, 0.5)\n"
         "outlier  N(0, 1), plus on channels c_j = (2j+1)*D/8, j = 0..3,\n"
         "         a constant offset of +-16 on every K token and +-4 on\n"
         "         every Q token (sign (-1)^j), like the outlier channels\n"
         "         of real LLM keys; V stays N(0, 1)";
}

Inputs generate_inputs(const InputShape& s, Distribution dist, uint64_t seed) {
  Inputs in;
  in.q.resize(static_cast<size_t>(s.batch * s.seqlen_q * s.heads * s.head_dim));
  in.k.resize(static_cast<size_t>(s.batch * s.seqlen_k * s.kv_heads * s.head_dim));
  in.v.resize(in.k.size());
  fill(in.q, s.head_dim, dist, Operand::query, derive_seed(seed, 0));
  fill(in.k, s.head_dim, dist, Operand::key, derive_seed(seed, 1));
  fill(in.v, s.head_dim, dist, Operand::value, derive_seed(seed, 2));
  return in;
}

uint64_t fresh_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ static_cast<uint64_t>(device());
}

uint64_t derive_seed(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace intfa::bench
