// API behaviour on the CPU: layouts, output types, GQA, causal alignment,
// fully masked rows, one call vs quantize + attention_quantized, recipes.
#include <cmath>
#include <cstring>
#include <limits>

#include "core/numeric.hpp"
#include "test_util.hpp"

namespace intfa::test {
namespace {

std::vector<float> run(const Inputs& x, const AttentionOptions& opt, bool bhsd_io,
                       std::vector<float>* lse = nullptr) {
  const Shape& s = x.shape;
  // Re-lay the inputs out as [B, H, S, D] when asked.
  auto relayout = [&](const std::vector<float>& src, int64_t seq, int64_t heads) {
    std::vector<float> dst(src.size());
    const TensorView a = TensorView::bshd(src.data(), DType::f32, s.batch, seq, heads, s.head_dim);
    const TensorView b = TensorView::bhsd(dst.data(), DType::f32, s.batch, seq, heads, s.head_dim);
    for (int64_t bb = 0; bb < s.batch; ++bb)
      for (int64_t t = 0; t < seq; ++t)
        for (int64_t h = 0; h < heads; ++h)
          std::memcpy(dst.data() + b.offset(bb, t, h), src.data() + a.offset(bb, t, h),
                      static_cast<size_t>(s.head_dim) * sizeof(float));
    return dst;
  };
  std::vector<float> q = bhsd_io ? relayout(x.q, s.seqlen_q, s.heads) : x.q;
  std::vector<float> k = bhsd_io ? relayout(x.k, s.seqlen_k, s.kv_heads) : x.k;
  std::vector<float> v = bhsd_io ? relayout(x.v, s.seqlen_k, s.kv_heads) : x.v;
  std::vector<float> out(x.q.size(), std::numeric_limits<float>::quiet_NaN());
  auto make = bhsd_io ? &TensorView::bhsd : &TensorView::bshd;
  if (lse) lse->assign(static_cast<size_t>(s.batch * s.heads * s.seqlen_q), 0.f);
  attention(make(q.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
            make(k.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
            make(v.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
            make(out.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
            lse ? lse->data() : nullptr, opt);
  // Return in bshd order.
  if (!bhsd_io) return out;
  std::vector<float> back(out.size());
  const TensorView a = TensorView::bhsd(out.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim);
  const TensorView b = TensorView::bshd(back.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim);
  for (int64_t bb = 0; bb < s.batch; ++bb)
    for (int64_t t = 0; t < s.seqlen_q; ++t)
      for (int64_t h = 0; h < s.heads; ++h)
        std::memcpy(back.data() + b.offset(bb, t, h), out.data() + a.offset(bb, t, h),
                    static_cast<size_t>(s.head_dim) * sizeof(float));
  return back;
}

AttentionOptions cpu_options(const char* recipe, bool causal = false) {
  AttentionOptions opt;
  opt.recipe = parse_recipe(recipe);
  opt.causal = causal;
  opt.backend = Backend::cpu;
  return opt;
}

TEST(Api, BshdAndBhsdLayoutsGiveIdenticalResults) {
  auto rng = rng_for_test();
  for (const char* r : {"intfa", "paper", "half-int8", "fp8-tensor"}) {
    const Shape s = random_shape(rng);
    const Inputs x = make_inputs(s, rng);
    const auto a = run(x, cpu_options(r, true), false), b = run(x, cpu_options(r, true), true);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << r << " " << s.str();
  }
}

TEST(Api, HalfAndBf16OutputsAreTheF32OutputRounded) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 1, 37, 70, 40};
  const Inputs x = make_inputs(s, rng);
  const auto ref = run(x, cpu_options("intfa"), false);
  for (DType t : {DType::f16, DType::bf16}) {
    std::vector<uint16_t> out(x.q.size());
    attention(x.qv(), x.kv(), x.vv(),
              TensorView::bshd(out.data(), t, s.batch, s.seqlen_q, s.heads, s.head_dim), nullptr,
              cpu_options("intfa"));
    for (size_t i = 0; i < out.size(); ++i)
      ASSERT_EQ(out[i], t == DType::f16 ? numeric::float_to_half_bits(ref[i])
                                        : numeric::float_to_bf16_bits(ref[i]));
  }
}

TEST(Api, GqaEqualsMhaWithRepeatedKv) {
  auto rng = rng_for_test();
  const Shape gqa{2, 6, 2, 45, 77, 32};
  const Inputs x = make_inputs(gqa, rng);
  // Repeat each KV head for its 3 query heads.
  Inputs mha = x;
  mha.shape.kv_heads = gqa.heads;
  mha.k.resize(static_cast<size_t>(gqa.batch * gqa.seqlen_k * gqa.heads * gqa.head_dim));
  mha.v.resize(mha.k.size());
  for (int64_t b = 0; b < gqa.batch; ++b)
    for (int64_t t = 0; t < gqa.seqlen_k; ++t)
      for (int64_t h = 0; h < gqa.heads; ++h)
        for (int64_t d = 0; d < gqa.head_dim; ++d) {
          const size_t src = static_cast<size_t>(((b * gqa.seqlen_k + t) * gqa.kv_heads + h / 3) * gqa.head_dim + d);
          const size_t dst = static_cast<size_t>(((b * gqa.seqlen_k + t) * gqa.heads + h) * gqa.head_dim + d);
          mha.k[dst] = x.k[src];
          mha.v[dst] = x.v[src];
        }
  for (const char* r : {"intfa", "paper", "half-int8"}) {
    const auto a = run(x, cpu_options(r), false), b = run(mha, cpu_options(r), false);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << r;
  }
}

// Bottom-right alignment: query i sees keys j <= i + Sk - Sq. With Sq > Sk the
// first Sq - Sk rows see nothing: O = 0 and LSE = -inf.
TEST(Api, CausalIsBottomRightAlignedAndEmptyRowsAreZero) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 2, 50, 20, 16};
  const Inputs x = make_inputs(s, rng);
  std::vector<float> lse;
  const auto out = run(x, cpu_options("intfa", true), false, &lse);
  std::vector<double> ref(out.size()), ref_lse(lse.size());
  attention_reference(x.qv(), x.kv(), x.vv(), ref.data(), ref_lse.data(), true);
  for (int64_t i = 0; i < s.seqlen_q; ++i)
    for (int64_t h = 0; h < s.heads; ++h) {
      const size_t row = static_cast<size_t>(h * s.seqlen_q + i);
      if (i < s.seqlen_q - s.seqlen_k) {
        EXPECT_TRUE(std::isinf(lse[row]) && lse[row] < 0) << "row " << i;
        EXPECT_TRUE(std::isinf(ref_lse[row]));
        for (int64_t d = 0; d < s.head_dim; ++d)
          EXPECT_EQ(out[static_cast<size_t>((i * s.heads + h) * s.head_dim + d)], 0.f);
      } else {
        EXPECT_NEAR(lse[row], ref_lse[row], 0.05) << "row " << i;
      }
    }
  // Row Sq-Sk sees exactly one key: its output is that key's V (up to
  // quantization of V, per-channel step/2).
  const int64_t i = s.seqlen_q - s.seqlen_k;
  for (int64_t d = 0; d < s.head_dim; ++d)
    EXPECT_NEAR(out[static_cast<size_t>((i * s.heads) * s.head_dim + d)], x.v[static_cast<size_t>(d)], 0.05);
}

TEST(Api, OneCallEqualsQuantizeThenAttend) {
  auto rng = rng_for_test();
  const Shape s{1, 4, 2, 33, 90, 64};
  const Inputs x = make_inputs(s, rng, Dist::outlier);
  const auto one_call = run(x, cpu_options("intfa"), false);
  const QuantizeOptions cpu{Backend::cpu, nullptr};
  std::vector<int8_t> q8(x.q.size()), k8(x.k.size()),
      vt(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim * padded_kv_length(s.seqlen_k)));
  std::vector<float> mean(static_cast<size_t>(s.kv_heads * s.head_dim)),
      qs(static_cast<size_t>(s.heads * s.seqlen_q)), ks(static_cast<size_t>(s.kv_heads * s.seqlen_k)),
      off(qs.size()), vs(mean.size()), out(x.q.size());
  QuantizedInputs in;
  in.recipe = Recipe::intfa();
  in.q = TensorView::bshd(q8.data(), DType::i8, 1, s.seqlen_q, s.heads, s.head_dim);
  in.k = TensorView::bshd(k8.data(), DType::i8, 1, s.seqlen_k, s.kv_heads, s.head_dim);
  channel_mean(x.kv(), mean.data(), cpu);
  quantize_per_token(x.kv(), mean.data(), in.k, ks.data(), cpu);
  quantize_q(x.qv(), in.q, qs.data(), mean.data(), s.kv_heads, off.data(), cpu);
  quantize_v(x.vv(), VFormat::int8_per_channel, vt.data(), vs.data(), cpu);
  in.q_scale = qs.data(), in.k_scale = ks.data(), in.lse_offset = off.data();
  in.vt = vt.data(), in.v_scale = vs.data();
  attention_quantized(in, TensorView::bshd(out.data(), DType::f32, 1, s.seqlen_q, s.heads, s.head_dim),
                      nullptr, cpu_options("intfa"));
  ASSERT_EQ(std::memcmp(out.data(), one_call.data(), out.size() * sizeof(float)), 0);
}

// Smooth-k recipes without buffers.lse_offset: quantize() skips Q's float64
// dot, the output is the same bytes, and asking for an LSE is a clear error;
// the one-call attention() (which skips the dot when no LSE is asked for)
// returns the same output with and without an LSE.
TEST(Api, LseOffsetIsOnlyNeededForAnLse) {
  auto rng = rng_for_test();
  const Shape s{2, 4, 2, 37, 70, 64};
  const Inputs x = make_inputs(s, rng, Dist::outlier);
  const Recipe recipe = Recipe::intfa();
  const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k,
                                           s.head_dim, recipe, DType::f32);
  ASSERT_GT(n.lse_offset, 0);
  struct Storage {
    std::vector<int8_t> q8, k8, vt;
    std::vector<float> qs, ks, mean, off, vs;
    QuantizedBuffers buf;
    explicit Storage(const QuantizedSizes& n, bool offsets)
        : q8(static_cast<size_t>(n.q8)), k8(static_cast<size_t>(n.k8)), vt(static_cast<size_t>(n.vt)),
          qs(static_cast<size_t>(n.q_scale)), ks(static_cast<size_t>(n.k_scale)),
          mean(static_cast<size_t>(n.k_mean)), off(static_cast<size_t>(n.lse_offset), -7.f),
          vs(static_cast<size_t>(n.v_scale)) {
      buf.q8 = q8.data(), buf.k8 = k8.data(), buf.vt = vt.data();
      buf.q_scale = qs.data(), buf.k_scale = ks.data(), buf.k_mean = mean.data();
      buf.v_scale = vs.data();
      buf.lse_offset = offsets ? off.data() : nullptr;
    }
  };
  const QuantizeOptions cpu{Backend::cpu, nullptr};
  Storage with(n, true), without(n, false);
  const QuantizedInputs in_with = quantize(x.qv(), x.kv(), x.vv(), recipe, with.buf, cpu);
  const QuantizedInputs in_without = quantize(x.qv(), x.kv(), x.vv(), recipe, without.buf, cpu);
  EXPECT_EQ(in_without.lse_offset, nullptr);
  EXPECT_EQ(with.q8, without.q8);
  EXPECT_EQ(with.qs, without.qs);
  EXPECT_EQ(with.k8, without.k8);
  EXPECT_EQ(with.vt, without.vt);
  size_t offsets_written = 0;
  for (float o : with.off) offsets_written += o != -7.f;
  EXPECT_GT(offsets_written, with.off.size() / 2) << "the offsets were computed when asked for";

  const AttentionOptions opt = cpu_options("intfa");
  auto attend = [&](const QuantizedInputs& in, float* lse) {
    std::vector<float> out(x.q.size());
    attention_quantized(in, TensorView::bshd(out.data(), DType::f32, s.batch, s.seqlen_q, s.heads,
                                             s.head_dim),
                        lse, opt);
    return out;
  };
  const std::vector<float> out_with = attend(in_with, nullptr);
  EXPECT_EQ(attend(in_without, nullptr), out_with);
  std::vector<float> lse(static_cast<size_t>(s.batch * s.heads * s.seqlen_q));
  try {
    attend(in_without, lse.data());
    ADD_FAILURE() << "an LSE without lse_offset must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("lse_offset is null"), std::string::npos) << e.what();
  }
  std::vector<float> lse_quantized(lse.size());
  EXPECT_EQ(attend(in_with, lse_quantized.data()), out_with);

  std::vector<float> lse_one_call;
  const std::vector<float> one_call_lse = run(x, opt, false, &lse_one_call);
  EXPECT_EQ(run(x, opt, false), one_call_lse);
  EXPECT_EQ(one_call_lse, out_with);
  EXPECT_EQ(lse_one_call, lse_quantized);
}

TEST(Api, SoftmaxScaleIsHonoured) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 2, 40, 60, 32};
  const Inputs x = make_inputs(s, rng);
  for (float scale : {0.05f, 0.6f}) {
    AttentionOptions opt = cpu_options("fp16");
    opt.softmax_scale = scale;
    const auto out = run(x, opt, false);
    std::vector<double> ref(out.size());
    attention_reference(x.qv(), x.kv(), x.vv(), ref.data(), nullptr, false, scale);
    double num = 0, den = 0;
    for (size_t i = 0; i < out.size(); ++i) num += std::fabs(out[i] - ref[i]), den += std::fabs(ref[i]);
    // fp16 inputs: relative error of order 2^-11 per operand.
    EXPECT_LT(num / den, 2e-3) << "scale " << scale;
  }
}

TEST(Api, RecipeNames) {
  EXPECT_EQ(parse_recipe("intfa"), Recipe::intfa());
  EXPECT_EQ(parse_recipe("paper+smooth-k+v-channel+p-u8"), Recipe::intfa());
  EXPECT_EQ(parse_recipe("intfa-smooth-k-v-channel-p-u8"), Recipe::paper());
  for (const char* name : {"paper", "intfa", "half-int8", "fp16", "fp8-tensor", "paper+p-u8",
                           "paper+smooth-k", "paper+v-channel", "half-int8+smooth-k"})
    EXPECT_EQ(recipe_name(parse_recipe(name)), name);
  EXPECT_EQ(recipe_name(parse_recipe("intfa-p-u8")), "paper+smooth-k+v-channel");
  EXPECT_EQ(parse_backend("cpu"), Backend::cpu);
  EXPECT_EQ(parse_backend("auto"), Backend::automatic);
}

TEST(Api, CudaBackendWithoutDeviceIsAClearError) {
  if (cuda_available()) GTEST_SKIP() << "a CUDA device is visible: this checks the no-GPU path";
  auto rng = rng_for_test();
  const Inputs x = make_inputs({1, 1, 1, 4, 4, 8}, rng);
  std::vector<float> out(x.q.size());
  AttentionOptions opt;
  opt.backend = Backend::cuda;
  try {
    attention(x.qv(), x.kv(), x.vv(), TensorView::bshd(out.data(), DType::f32, 1, 4, 1, 8), nullptr, opt);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::backend_unavailable) << e.what();
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace intfa::test
