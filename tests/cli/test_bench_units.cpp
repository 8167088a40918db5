// Pieces of intfa-bench checked directly (intfa_bench_core): the row-sampling
// claims its error figures rest on, the JSON reader/writer, and the PNG
// encoder's checksums and deflate stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <utility>

#include "bench_options.hpp"
#include "inputs.hpp"
#include "json.hpp"
#include "metrics.hpp"
#include "png_encoder.hpp"

#ifdef INTFA_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

namespace intfa::bench {
namespace {

// The accuracy study runs each recipe on a sub-problem made of the selected
// query rows and the full K and V. Its premise: every such row comes out bit
// for bit as in the full problem, for every recipe, including fp8-tensor
// whose Q scale depends on the whole tensor.
TEST(RowSampling, SubProblemRowsEqualTheFullProblemsForEveryRecipe) {
  const InputShape s{2, 4, 2, 200, 200, 32};  // GQA, S not a multiple of any block
  Inputs in = generate_inputs(s, Distribution::normal, 1);
  const int64_t row_width = s.heads * s.head_dim;
  // Plant the largest |Q| in row 123 (batch 1), so the per-tensor scale hinges on it.
  in.q[static_cast<size_t>((1 * s.seqlen_q + 123) * row_width + 3 * s.head_dim + 5)] = -9.f;

  std::mt19937_64 rng(7);
  const RowSelection rows = select_rows_keeping_q_max(in.q, s.seqlen_q, row_width, 10, rng);
  ASSERT_EQ(rows.scored.size(), 10u);
  ASSERT_EQ(rows.computed.size(), 11u) << "row 123 should be added, not drawn, with this seed";
  EXPECT_TRUE(std::binary_search(rows.computed.begin(), rows.computed.end(), 123));
  for (const RowPair& pair : rows.scored) EXPECT_NE(rows.computed[pair.out_row], 123);

  const int64_t n = static_cast<int64_t>(rows.computed.size());
  std::vector<float> q_rows = gather_rows(in.q.data(), s.batch, s.seqlen_q, row_width, rows.computed);
  const auto k = TensorView::bshd(in.k.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  const auto v = TensorView::bshd(in.v.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  std::vector<float> full(in.q.size()), sub(q_rows.size());
  std::vector<NamedRecipe> recipes = base_recipes();
  for (const char* ablation : {"paper+smooth-k", "paper+v-channel", "paper+p-u8",
                               "intfa-smooth-k", "intfa-v-channel", "intfa-p-u8"})
    recipes.push_back(parse_named_recipe(ablation));
  for (const NamedRecipe& r : recipes) {
    SCOPED_TRACE(r.name);
    AttentionOptions opt;
    opt.recipe = r.recipe;
    opt.backend = Backend::cpu;
    attention(TensorView::bshd(in.q.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
              k, v, TensorView::bshd(full.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
              nullptr, opt);
    attention(TensorView::bshd(q_rows.data(), DType::f32, s.batch, n, s.heads, s.head_dim), k, v,
              TensorView::bshd(sub.data(), DType::f32, s.batch, n, s.heads, s.head_dim), nullptr,
              opt);
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t i = 0; i < n; ++i) {
        const float* want = full.data() + (b * s.seqlen_q + rows.computed[static_cast<size_t>(i)]) * row_width;
        const float* got = sub.data() + (b * n + i) * row_width;
        ASSERT_EQ(std::memcmp(want, got, static_cast<size_t>(row_width) * sizeof(float)), 0)
            << "batch " << b << " row " << rows.computed[static_cast<size_t>(i)];
      }
  }
}

// intfa-bench's default check compares sampled rows with a reference computed
// for those rows only; causal rows keep their true positions.
TEST(RowSampling, SampledReferenceRowsEqualTheFullReference) {
  for (const auto& [seqlen_q, seqlen_k, causal] :
       {std::tuple<int64_t, int64_t, bool>{50, 80, true}, {80, 50, true}, {64, 64, false}}) {
    SCOPED_TRACE(std::to_string(seqlen_q) + "x" + std::to_string(seqlen_k) +
                 (causal ? " causal" : ""));
    const InputShape s{2, 2, 1, seqlen_q, seqlen_k, 16};
    const Inputs in = generate_inputs(s, Distribution::uniform, 3);
    Problem p;
    p.batch = s.batch, p.heads = s.heads, p.kv_heads = s.kv_heads;
    p.seqlen_q = seqlen_q, p.seqlen_k = seqlen_k, p.head_dim = s.head_dim, p.causal = causal;
    p.q = in.q.data(), p.k = in.k.data(), p.v = in.v.data();
    std::mt19937_64 rng(5);
    const std::vector<int64_t> sampled = sample_query_rows(seqlen_q, 9, rng);
    const std::vector<int64_t> all = sample_query_rows(seqlen_q, 0, rng);
    const std::vector<double> sampled_ref = reference_rows(p, sampled);
    const std::vector<double> full_ref = reference_rows(p, all);
    const int64_t row_width = s.heads * s.head_dim, n = static_cast<int64_t>(sampled.size());
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t e = 0; e < row_width; ++e)
          ASSERT_EQ(sampled_ref[static_cast<size_t>((b * n + i) * row_width + e)],
                    full_ref[static_cast<size_t>((b * seqlen_q + sampled[static_cast<size_t>(i)]) *
                                                     row_width + e)]);
  }
}

TEST(RowSampling, DrawsDistinctAscendingRowsOrAll) {
  std::mt19937_64 rng(11);
  const auto some = sample_query_rows(100, 5, rng);
  ASSERT_EQ(some.size(), 5u);
  for (size_t i = 0; i < some.size(); ++i) {
    EXPECT_GE(some[i], 0);
    EXPECT_LT(some[i], 100);
    if (i > 0) {
      EXPECT_LT(some[i - 1], some[i]);
    }
  }
  for (int64_t count : {0, 100, 500}) {
    const auto every = sample_query_rows(100, count, rng);
    ASSERT_EQ(every.size(), 100u);
    EXPECT_EQ(every.front(), 0);
    EXPECT_EQ(every.back(), 99);
  }
}

// Inputs are drawn in independently seeded pieces on several threads: the
// same seed must give the same tensors, the pieces must not repeat each
// other, and the values must still follow the distribution.
TEST(Inputs, ParallelPiecesAreReproducibleDistinctAndDistributed) {
  const InputShape s{1, 3, 1, 1000, 1500, 512};  // Q 1.5M elements: two pieces and a partial one
  const uint64_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  const Inputs a = generate_inputs(s, Distribution::normal, seed);
  const Inputs b = generate_inputs(s, Distribution::normal, seed);
  ASSERT_EQ(a.q.size(), static_cast<size_t>(1000 * 3 * 512));
  ASSERT_GT(a.q.size(), kGeneratorChunk);
  EXPECT_EQ(a.q, b.q);
  EXPECT_EQ(a.k, b.k);
  EXPECT_EQ(a.v, b.v);
  EXPECT_NE(a.k, a.v) << "K and V drawn from the same stream";
  const Inputs c = generate_inputs(s, Distribution::normal, seed + 1);
  EXPECT_NE(a.q, c.q);
  // Piece 1 of Q does not repeat piece 0.
  EXPECT_FALSE(std::equal(a.q.begin(), a.q.begin() + 64, a.q.begin() + kGeneratorChunk));
  // N(0, 1) over 1.5M samples: mean within 0.01 (~12 standard errors) and
  // variance within 0.01 of 1 (~7 standard errors), in every piece too.
  auto moments = [](const float* x, size_t n) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < n; ++i) sum += x[i], sq += static_cast<double>(x[i]) * x[i];
    const double mean = sum / static_cast<double>(n);
    return std::pair<double, double>{mean, sq / static_cast<double>(n) - mean * mean};
  };
  for (size_t begin = 0; begin < a.q.size(); begin += kGeneratorChunk) {
    const size_t n = std::min(kGeneratorChunk, a.q.size() - begin);
    const auto [mean, var] = moments(a.q.data() + begin, n);
    SCOPED_TRACE("piece at " + std::to_string(begin) + ", " + std::to_string(n) + " values");
    const double tol = 12.0 / std::sqrt(static_cast<double>(n));
    EXPECT_NEAR(mean, 0.0, tol);
    EXPECT_NEAR(var, 1.0, 7.0 * std::sqrt(2.0 / static_cast<double>(n)));
  }
  // Uniform(-0.5, 0.5): every value inside, mean near 0.
  const Inputs u = generate_inputs(s, Distribution::uniform, seed);
  EXPECT_TRUE(std::all_of(u.v.begin(), u.v.end(), [](float x) { return x >= -0.5f && x < 0.5f; }));
  EXPECT_NEAR(moments(u.v.data(), u.v.size()).first, 0.0, 0.01);
}

TEST(Json, WrittenObjectsReadBackWithEscapesAndNulls) {
  const std::string tricky = "a \"quoted\" \\ path\nwith\ttabs \x01 and caf\xc3\xa9";
  const std::string line = JsonObject()
                               .add_string("name", tricky)
                               .add_number("small", 1.25e-7)
                               .add_number("nan", NAN)
                               .add_number("inf", INFINITY)
                               .add_unsigned("seed", 18446744073709551615ull)
                               .add_bool("flag", true)
                               .add_null("none")
                               .str();
  const FlatJson object = parse_flat_json(line);
  ASSERT_EQ(object.size(), 7u);
  EXPECT_EQ(find_field(object, "name")->text, tricky);
  EXPECT_EQ(find_field(object, "small")->number, 1.25e-7);
  EXPECT_EQ(find_field(object, "nan")->kind, JsonValue::Kind::null);
  EXPECT_EQ(find_field(object, "inf")->kind, JsonValue::Kind::null);
  EXPECT_EQ(find_field(object, "seed")->text, "18446744073709551615");
  EXPECT_EQ(find_field(object, "flag")->text, "true");
  EXPECT_EQ(find_field(object, "none")->kind, JsonValue::Kind::null);
  EXPECT_EQ(parse_flat_json(R"({"u": "\u00e9\u0041"})")[0].second.text, "\xc3\xa9" "A");
  for (const char* bad : {R"({"a": 1} x)", R"({"a": {"b": 1}})", R"({"a": [1]})", R"({"a": 1,})",
                          R"({"a" 1})", R"({"a": "open})", R"({"a": 1e})", "[]"})
    EXPECT_THROW(parse_flat_json(bad), std::runtime_error) << bad;
}

TEST(PngEncoder, ChecksumsMatchTheirStandardCheckValues) {
  const std::string digits = "123456789", wiki = "Wikipedia";
  EXPECT_EQ(crc32(reinterpret_cast<const uint8_t*>(digits.data()), digits.size()), 0xCBF43926u);
  EXPECT_EQ(adler32(reinterpret_cast<const uint8_t*>(wiki.data()), wiki.size()), 0x11E60398u);
}

#ifdef INTFA_TEST_HAVE_ZLIB
TEST(PngEncoder, DeflateStreamsInflateWithZlib) {
  std::mt19937_64 rng(1);
  std::vector<std::vector<uint8_t>> inputs = {{}, {'a'}};
  std::vector<uint8_t> noise(70000);
  for (uint8_t& b : noise) b = static_cast<uint8_t>(rng());
  inputs.push_back(noise);
  // Long runs (258-byte matches at distance 1), repeats farther back than the
  // 32 KiB window, and short periodic patterns (overlapping matches).
  std::vector<uint8_t> structured(300000, 0);
  for (size_t i = 0; i < structured.size(); ++i) {
    if (i % 40000 < 1000) structured[i] = static_cast<uint8_t>(noise[i % 1000]);
    if (i % 7 == 0 && i > 200000) structured[i] = static_cast<uint8_t>(i % 3);
  }
  inputs.push_back(structured);
  for (const std::vector<uint8_t>& data : inputs) {
    const std::vector<uint8_t> z = zlib_compress(data);
    std::vector<uint8_t> back(data.size() + 1);
    uLongf size = static_cast<uLongf>(back.size());
    ASSERT_EQ(uncompress(back.data(), &size, z.data(), static_cast<uLong>(z.size())), Z_OK)
        << data.size() << " bytes";
    back.resize(size);
    EXPECT_EQ(back, data);
  }
  EXPECT_LT(zlib_compress(structured).size(), structured.size() / 10);
}
#endif

}  // namespace
}  // namespace intfa::bench
