// Every vectorized INT8 kernel this CPU supports against the direct emulation,
// bit for bit (outputs and LSE), on fresh random problems: odd lengths,
// Sq != Sk, GQA, causal (also Sq > Sk, where leading rows see no key), D = 1
// to 512, kv_block sizes that do not divide the lengths, strided layouts and
// every output type; raw int8 operands including -128; forced scalar fallback.
#include <cmath>
#include <cstring>

#include "core/api_internal.hpp"
#include "core/numeric.hpp"
#include "core/tensor_access.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/isa.hpp"
#include "simd_test_util.hpp"

namespace intfa::simd_test {
namespace {

// Quantized operands for `recipe`, owned.
struct Problem {
  Dims s;
  std::vector<int8_t> q8, k8, vt;
  std::vector<float> q_scale, k_scale, v_scale, k_mean, lse_offset;
  std::vector<uint16_t> v16;  // half-int8: V as fp16
  QuantizedInputs in;
};

Problem make_problem(const Dims& s, const Recipe& recipe, std::mt19937_64& rng, bool bhsd) {
  Problem r;
  r.s = s;
  const auto q = normal_values(rng, s.batch * s.seqlen_q * s.heads * s.head_dim);
  auto k = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
  const auto v = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
  // A channel offset, as real keys have (exercises K smoothing).
  for (size_t i = 0; i < k.size(); i += static_cast<size_t>(s.head_dim)) k[i] += 3.f;
  const auto qv = TensorView::bshd(q.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim);
  const auto kv = TensorView::bshd(k.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  const auto vv = TensorView::bshd(v.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  r.q8.resize(q.size());
  r.k8.resize(k.size());
  r.q_scale.resize(static_cast<size_t>(s.batch * s.heads * s.seqlen_q));
  r.k_scale.resize(static_cast<size_t>(s.batch * s.kv_heads * s.seqlen_k));
  r.in.recipe = recipe;
  auto layout = [&](void* data, int64_t seq, int64_t heads) {
    return bhsd ? TensorView::bhsd(data, DType::i8, s.batch, seq, heads, s.head_dim)
                : TensorView::bshd(data, DType::i8, s.batch, seq, heads, s.head_dim);
  };
  r.in.q = layout(r.q8.data(), s.seqlen_q, s.heads);
  r.in.k = layout(r.k8.data(), s.seqlen_k, s.kv_heads);
  const QuantizeOptions cpu{Backend::cpu, nullptr};
  if (recipe.smooth_k) {
    r.k_mean.resize(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim));
    r.lse_offset.resize(r.q_scale.size());
    channel_mean(kv, r.k_mean.data(), cpu);
  }
  quantize_per_token(kv, recipe.smooth_k ? r.k_mean.data() : nullptr, r.in.k, r.k_scale.data(),
                     cpu);
  quantize_q(qv, r.in.q, r.q_scale.data(), recipe.smooth_k ? r.k_mean.data() : nullptr,
             s.kv_heads, recipe.smooth_k ? r.lse_offset.data() : nullptr, cpu);
  r.in.q_scale = r.q_scale.data();
  r.in.k_scale = r.k_scale.data();
  r.in.lse_offset = recipe.smooth_k ? r.lse_offset.data() : nullptr;
  if (recipe.int8_v()) {
    r.vt.resize(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim *
                                    padded_kv_length(s.seqlen_k)));
    r.v_scale.resize(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim));
    quantize_v(vv, recipe.v, r.vt.data(), r.v_scale.data(), cpu);
    r.in.vt = r.vt.data();
    r.in.v_scale = r.v_scale.data();
  } else {
    r.v16.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) r.v16[i] = numeric::float_to_half_bits(v[i]);
    r.in.v = TensorView::bshd(r.v16.data(), DType::f16, s.batch, s.seqlen_k, s.kv_heads,
                              s.head_dim);
  }
  return r;
}

struct Output {
  std::vector<unsigned char> out;
  std::vector<float> lse;
  TensorView view;
};

Output make_output(const Dims& s, DType type, bool bhsd) {
  Output o;
  o.out.assign(static_cast<size_t>(s.batch * s.seqlen_q * s.heads * s.head_dim) * dtype_size(type),
               0xAB);
  o.lse.assign(static_cast<size_t>(s.batch * s.heads * s.seqlen_q), 12345.f);
  o.view = bhsd ? TensorView::bhsd(o.out.data(), type, s.batch, s.seqlen_q, s.heads, s.head_dim)
                : TensorView::bshd(o.out.data(), type, s.batch, s.seqlen_q, s.heads, s.head_dim);
  return o;
}

// Outputs equal bit for bit, except that +0 and -0 count as equal (a fully
// masked block may turn a -0 accumulator into +0, see tests/cpu); NaN fails.
void expect_same(const Output& a, const Output& e, const Dims& s) {
  int64_t bad = 0;
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t i = 0; i < s.seqlen_q; ++i)
      for (int64_t h = 0; h < s.heads; ++h)
        for (int64_t d = 0; d < s.head_dim; ++d) {
          const int64_t off = a.view.offset(b, i, h) + d;
          const float x = detail::load_element(a.out.data(), a.view.dtype, off);
          const float y = detail::load_element(e.out.data(), e.view.dtype, off);
          if (!(x == y) && ++bad <= 3)
            ADD_FAILURE() << "out[" << b << "," << i << "," << h << "," << d << "] simd " << x
                          << " emulated " << y;
        }
  EXPECT_EQ(bad, 0);
  for (size_t i = 0; i < a.lse.size(); ++i)
    if (!(a.lse[i] == e.lse[i])) {
      ADD_FAILURE() << "lse[" << i << "] simd " << a.lse[i] << " emulated " << e.lse[i];
      break;
    }
}

// Runs attention_tiled under `isa` and attention_emulated on the same params.
void check_problem(cpu::Isa isa, const Problem& pr, const Recipe& recipe, bool causal,
                   int32_t kv_block, DType out_type, bool bhsd_out) {
  const Dims& s = pr.s;
  Output simd = make_output(s, out_type, bhsd_out), emu = make_output(s, out_type, bhsd_out);
  AttentionOptions opt;
  opt.recipe = recipe;
  opt.causal = causal;
  opt.kv_block = kv_block;
  opt.backend = Backend::cpu;
  const detail::Shape shape{s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim};
  std::vector<float> unit1, unit2;
  AttentionParams p = detail::build_params(pr.in, simd.view, simd.lse.data(), opt, Backend::cpu,
                                           shape, unit1);
  if (p.kv_block == 0) p.kv_block = cpu::kDefaultKvBlock;
  AttentionParams pe = detail::build_params(pr.in, emu.view, emu.lse.data(), opt, Backend::cpu,
                                            shape, unit2);
  if (pe.kv_block == 0) pe.kv_block = cpu::kDefaultKvBlock;
  {
    ForceIsa force(isa);
    ASSERT_EQ(cpu::attention_isa(p), isa) << "recipe " << recipe_name(recipe)
                                          << " did not take the vectorized path";
    cpu::attention_tiled(p);
  }
  cpu::attention_emulated(pe);
  expect_same(simd, emu, s);
}

void random_problems(cpu::Isa isa, int trials) {
  auto rng = rng_for_test();
  const char* recipes[] = {"intfa", "paper", "half-int8", "paper+p-u8", "intfa-smooth-k",
                           "intfa-v-channel", "paper+smooth-k"};
  const DType out_types[] = {DType::f32, DType::f16, DType::bf16};
  const int32_t kv_blocks[] = {0, 16, 37, 64, 100, 1, 128};
  for (int t = 0; t < trials; ++t) {
    const Dims s = random_dims(rng);
    const char* name = recipes[t % 7];
    const Recipe recipe = parse_recipe(name);
    const bool causal = pick(rng, 0, 1) == 1;
    const int32_t kv_block = kv_blocks[pick(rng, 0, 6)];
    const DType out_type = out_types[pick(rng, 0, 2)];
    const bool bhsd_in = pick(rng, 0, 1) == 1, bhsd_out = pick(rng, 0, 1) == 1;
    SCOPED_TRACE(std::string(cpu::isa_name(isa)) + " " + s.str() + " recipe=" + name +
                 " causal=" + std::to_string(causal) + " kv_block=" + std::to_string(kv_block) +
                 " out=" + dtype_name(out_type) + " bhsd_in=" + std::to_string(bhsd_in) +
                 " bhsd_out=" + std::to_string(bhsd_out));
    const Problem pr = make_problem(s, recipe, rng, bhsd_in);
    check_problem(isa, pr, recipe, causal, kv_block, out_type, bhsd_out);
    if (::testing::Test::HasFailure()) return;
  }
}

class IntKernels : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (!cpu::isa_supported(GetParam()))
      GTEST_SKIP() << "this CPU does not support " << cpu::isa_name(GetParam())
                   << " (detected: " << cpu::isa_name(cpu::detected_isa())
                   << "); run these tests on a machine that has it";
  }
};

TEST_P(IntKernels, RandomProblemsEqualEmulationBitForBit) { random_problems(GetParam(), 60); }

// Fixed corner shapes, each recipe, causal and not.
TEST_P(IntKernels, CornerShapesEqualEmulation) {
  auto rng = rng_for_test();
  const Dims shapes[] = {
      {1, 1, 1, 1, 1, 1},       // D = 1, one token
      {1, 2, 1, 5, 300, 512},   // D = 512, MQA, Sq << Sk
      {1, 3, 3, 200, 7, 33},    // Sq >> Sk: causal rows before the diagonal see nothing
      {2, 4, 2, 65, 129, 128},  // odd lengths around the block sizes, GQA
      {1, 1, 1, 130, 130, 17},  // Sq = Sk, partial row groups
      {1, 2, 2, 16, 1000, 64},  // many key blocks
  };
  for (const Dims& s : shapes)
    for (const char* name : {"intfa", "paper", "half-int8"})
      for (bool causal : {false, true}) {
        SCOPED_TRACE(s.str() + " recipe=" + name + " causal=" + std::to_string(causal));
        const Recipe recipe = parse_recipe(name);
        const Problem pr = make_problem(s, recipe, rng, false);
        check_problem(GetParam(), pr, recipe, causal, 0, DType::f32, false);
        if (HasFailure()) return;
      }
}

// Large scores (big softmax scale) so that P spans the full 0..255 range with
// many exact zeros, and alpha underflows between blocks.
TEST_P(IntKernels, ExtremeScoresEqualEmulation) {
  auto rng = rng_for_test();
  const Dims s{1, 2, 1, 70, 200, 40};
  for (const char* name : {"intfa", "paper", "half-int8"})
    for (float scale : {0.001f, 3.f, 40.f}) {
      SCOPED_TRACE(std::string(name) + " softmax_scale=" + std::to_string(scale));
      const Recipe recipe = parse_recipe(name);
      Problem pr = make_problem(s, recipe, rng, false);
      Output simd = make_output(s, DType::f32, false), emu = make_output(s, DType::f32, false);
      AttentionOptions opt;
      opt.recipe = recipe;
      opt.softmax_scale = scale;
      opt.kv_block = 32;
      const detail::Shape shape{s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim};
      std::vector<float> u1, u2;
      AttentionParams p =
          detail::build_params(pr.in, simd.view, simd.lse.data(), opt, Backend::cpu, shape, u1);
      AttentionParams pe =
          detail::build_params(pr.in, emu.view, emu.lse.data(), opt, Backend::cpu, shape, u2);
      {
        ForceIsa force(GetParam());
        cpu::attention_tiled(p);
      }
      cpu::attention_emulated(pe);
      expect_same(simd, emu, s);
    }
}

// Quantized inputs are a public API: int8 operands may hold -128, which no
// quantizer produces, and the products must stay exact.
TEST_P(IntKernels, RawInt8OperandsIncludingMinus128) {
  auto rng = rng_for_test();
  for (int t = 0; t < 8; ++t) {
    const Dims s = random_dims(rng, 90);
    const Recipe recipe = t % 2 ? Recipe::paper() : Recipe::intfa();
    SCOPED_TRACE(s.str() + " " + recipe_name(recipe));
    Problem pr = make_problem(s, recipe, rng, false);
    std::uniform_int_distribution<int> byte(-128, 127);
    for (auto* buf : {&pr.q8, &pr.k8, &pr.vt})
      for (int8_t& x : *buf) x = static_cast<int8_t>(pick(rng, 0, 3) == 0 ? -128 : byte(rng));
    // Scales that keep the scores in a useful range.
    for (float& x : pr.q_scale) x = 1.f / 127;
    for (float& x : pr.k_scale) x = 1.f / 127;
    check_problem(GetParam(), pr, recipe, t % 3 == 0, 0, DType::f32, false);
    if (HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, IntKernels, ::testing::ValuesIn(kVectorIsas),
                         [](const auto& p) { return std::string(cpu::isa_name(p.param)); });

// The forced scalar path: attention_isa says scalar and the result is the
// emulation's (it is the original tiled kernel).
TEST(IntKernelsScalar, ForcedScalarEqualsEmulation) {
  auto rng = rng_for_test();
  for (int t = 0; t < 6; ++t) {
    const Dims s = random_dims(rng, 80);
    const Recipe recipe = t % 2 ? Recipe::paper() : Recipe::intfa();
    SCOPED_TRACE(s.str());
    const Problem pr = make_problem(s, recipe, rng, false);
    check_problem(cpu::Isa::scalar, pr, recipe, t % 3 == 0, 0, DType::f32, false);
  }
}

// Recipes without a vectorized kernel (float Q/K baselines) report scalar.
TEST(IntKernelsScalar, FloatBaselinesRunScalar) {
  AttentionParams p;
  p.qk_dtype = DType::f32;
  p.v_dtype = DType::f32;
  p.recipe = Recipe::fp16();
  EXPECT_EQ(cpu::attention_isa(p), cpu::Isa::scalar);
  p.qk_dtype = DType::i8;
  p.recipe.p = PFormat::e4m3;
  EXPECT_EQ(cpu::attention_isa(p), cpu::Isa::scalar);
}

// End to end through the public API: same output for every ISA.
TEST(IntKernelsScalar, PublicApiSameOutputForEveryIsa) {
  auto rng = rng_for_test();
  const Dims s{1, 4, 2, 77, 91, 72};
  const auto q = normal_values(rng, s.batch * s.seqlen_q * s.heads * s.head_dim);
  const auto k = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
  const auto v = normal_values(rng, s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
  for (const char* name : {"intfa", "paper", "half-int8"}) {
    AttentionOptions opt;
    opt.recipe = parse_recipe(name);
    opt.backend = Backend::cpu;
    opt.causal = true;
    std::vector<float> ref;
    for (cpu::Isa isa : kAllIsas) {
      if (!cpu::isa_supported(isa)) continue;
      std::vector<float> out(q.size());
      ForceIsa force(isa);
      attention(TensorView::bshd(q.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
                TensorView::bshd(k.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
                TensorView::bshd(v.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
                TensorView::bshd(out.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
                nullptr, opt);
      if (ref.empty()) {
        ref = out;
      } else {
        EXPECT_EQ(0, std::memcmp(ref.data(), out.data(), out.size() * sizeof(float)))
            << name << ": " << cpu::isa_name(isa) << " differs from scalar";
      }
    }
  }
}

}  // namespace
}  // namespace intfa::simd_test
