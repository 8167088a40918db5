// Quantization through the public API on the CPU: round-trip bounds, layouts,
// K smoothing, V scales and the V̂ᵀ layout, and the NaN/Inf policy.
#include <cmath>
#include <limits>

#include "test_util.hpp"

namespace intfa::test {
namespace {

const QuantizeOptions kCpu{Backend::cpu, nullptr};

TEST(Quantize, PerTokenRoundTripWithinHalfStep) {
  auto rng = rng_for_test();
  for (bool bhsd : {false, true}) {
    const Shape s = random_shape(rng);
    const Inputs x = make_inputs(s, rng, Dist::outlier);
    std::vector<int8_t> q8(x.k.size(), 99);
    std::vector<float> scale(static_cast<size_t>(s.batch * s.kv_heads * s.seqlen_k));
    const TensorView in = x.kv();
    const TensorView out = bhsd ? TensorView::bhsd(q8.data(), DType::i8, s.batch, s.seqlen_k,
                                                   s.kv_heads, s.head_dim)
                                : TensorView::bshd(q8.data(), DType::i8, s.batch, s.seqlen_k,
                                                   s.kv_heads, s.head_dim);
    quantize_per_token(in, nullptr, out, scale.data(), kCpu);
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.kv_heads; ++h)
        for (int64_t t = 0; t < s.seqlen_k; ++t) {
          const float sc = scale[static_cast<size_t>((b * s.kv_heads + h) * s.seqlen_k + t)];
          float amax = 0;
          int max_code = 0;
          for (int64_t d = 0; d < s.head_dim; ++d) {
            const float v = x.k[static_cast<size_t>(in.offset(b, t, h) + d)];
            const int code = q8[static_cast<size_t>(out.offset(b, t, h) + d)];
            amax = std::max(amax, std::fabs(v));
            max_code = std::max(max_code, std::abs(code));
            ASSERT_TRUE(within_roundtrip_bound(v, code, sc)) << s.str() << " x=" << v << " code=" << code << " s=" << sc;
          }
          ASSERT_FLOAT_EQ(sc, amax / 127.f);
          ASSERT_EQ(max_code, 127);
        }
  }
}

TEST(Quantize, AllZeroTokenHasZeroScaleAndFiniteAttention) {
  const int64_t S = 5, D = 8;
  std::vector<float> q(S * D, 0.f), k(S * D, 0.f), v(S * D, 0.f), out(S * D, -7.f);
  q[3] = 1.f, k[D + 2] = -2.f, v[9] = 3.f;  // most tokens all zero, one not
  std::vector<int8_t> q8(S * D, 5);
  std::vector<float> scale(S, -1.f);
  quantize_per_token(TensorView::bshd(q.data(), DType::f32, 1, S, 1, D), nullptr,
                     TensorView::bshd(q8.data(), DType::i8, 1, S, 1, D), scale.data(), kCpu);
  EXPECT_EQ(scale[1], 0.f);
  for (int d = 0; d < D; ++d) EXPECT_EQ(q8[D + d], 0);
  for (const char* r : {"paper", "intfa", "half-int8"}) {
    AttentionOptions opt;
    opt.recipe = parse_recipe(r);
    opt.backend = Backend::cpu;
    attention(TensorView::bshd(q.data(), DType::f32, 1, S, 1, D),
              TensorView::bshd(k.data(), DType::f32, 1, S, 1, D),
              TensorView::bshd(v.data(), DType::f32, 1, S, 1, D),
              TensorView::bshd(out.data(), DType::f32, 1, S, 1, D), nullptr, opt);
    for (float o : out) ASSERT_TRUE(std::isfinite(o)) << r;
  }
}

TEST(Quantize, KSmoothingSubtractsChannelMean) {
  auto rng = rng_for_test();
  const Shape s{2, 4, 2, 7, 33, 24};
  const Inputs x = make_inputs(s, rng, Dist::outlier);
  std::vector<float> mean(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim));
  channel_mean(x.kv(), mean.data(), kCpu);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.kv_heads; ++h)
      for (int64_t d = 0; d < s.head_dim; ++d) {
        double sum = 0;
        for (int64_t t = 0; t < s.seqlen_k; ++t)
          sum += x.k[static_cast<size_t>(x.kv().offset(b, t, h) + d)];
        ASSERT_NEAR(mean[static_cast<size_t>((b * s.kv_heads + h) * s.head_dim + d)],
                    sum / s.seqlen_k, 1e-6);
      }
  // Quantizing with the mean reconstructs k − mean within half a step.
  std::vector<int8_t> k8(x.k.size());
  std::vector<float> scale(static_cast<size_t>(s.batch * s.kv_heads * s.seqlen_k));
  const TensorView out = TensorView::bshd(k8.data(), DType::i8, s.batch, s.seqlen_k, s.kv_heads,
                                          s.head_dim);
  quantize_per_token(x.kv(), mean.data(), out, scale.data(), kCpu);
  for (int64_t t = 0; t < s.seqlen_k; ++t) {
    const float sc = scale[static_cast<size_t>(t)];  // b = 0, h = 0
    for (int64_t d = 0; d < s.head_dim; ++d) {
      const float centered = x.k[static_cast<size_t>(x.kv().offset(0, t, 0) + d)] - mean[d];
      ASSERT_TRUE(within_roundtrip_bound(centered, k8[static_cast<size_t>(out.offset(0, t, 0) + d)], sc));
    }
  }
  // Q's LSE offset is q · mean of its KV head.
  std::vector<int8_t> q8(x.q.size());
  std::vector<float> q_scale(static_cast<size_t>(s.batch * s.heads * s.seqlen_q)),
      offset(q_scale.size());
  quantize_q(x.qv(), TensorView::bshd(q8.data(), DType::i8, s.batch, s.seqlen_q, s.heads,
                                      s.head_dim),
             q_scale.data(), mean.data(), s.kv_heads, offset.data(), kCpu);
  const int64_t b = 1, h = 3, t = 5, hk = h / (s.heads / s.kv_heads);
  double dot = 0;
  for (int64_t d = 0; d < s.head_dim; ++d)
    dot += x.q[static_cast<size_t>(x.qv().offset(b, t, h) + d)] *
           static_cast<double>(mean[static_cast<size_t>((b * s.kv_heads + hk) * s.head_dim + d)]);
  EXPECT_NEAR(offset[static_cast<size_t>((b * s.heads + h) * s.seqlen_q + t)], dot,
              1e-5 * (1 + std::fabs(dot)));
}

TEST(Quantize, VLayoutScalesAndPadding) {
  auto rng = rng_for_test();
  const Shape s{2, 2, 2, 3, 131, 20};  // 131 keys: padded to 256
  const Inputs x = make_inputs(s, rng, Dist::uniform);
  const int64_t pad = padded_kv_length(s.seqlen_k);
  ASSERT_EQ(pad, 256);
  for (VFormat f : {VFormat::int8_per_tensor, VFormat::int8_per_channel}) {
    std::vector<int8_t> vt(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim * pad), 77);
    std::vector<float> scale(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim));
    quantize_v(x.vv(), f, vt.data(), scale.data(), kCpu);
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.kv_heads; ++h) {
        const float* sc = scale.data() + (b * s.kv_heads + h) * s.head_dim;
        float tensor_amax = 0;
        for (int64_t d = 0; d < s.head_dim; ++d) {
          float amax = 0;
          for (int64_t t = 0; t < s.seqlen_k; ++t)
            amax = std::max(amax, std::fabs(x.v[static_cast<size_t>(x.vv().offset(b, t, h) + d)]));
          tensor_amax = std::max(tensor_amax, amax);
          if (f == VFormat::int8_per_channel) {
            ASSERT_FLOAT_EQ(sc[d], amax / 127.f);
          }
          const int8_t* channel = vt.data() + ((b * s.kv_heads + h) * s.head_dim + d) * pad;
          for (int64_t t = 0; t < s.seqlen_k; ++t) {
            const float v = x.v[static_cast<size_t>(x.vv().offset(b, t, h) + d)];
            ASSERT_TRUE(within_roundtrip_bound(v, channel[t], sc[d])) << "x=" << v << " s=" << sc[d];
          }
          for (int64_t t = s.seqlen_k; t < pad; ++t) ASSERT_EQ(channel[t], 0) << "padding";
        }
        if (f == VFormat::int8_per_tensor) {
          for (int64_t d = 0; d < s.head_dim; ++d) ASSERT_FLOAT_EQ(sc[d], tensor_amax / 127.f);
        }
      }
  }
}

// Policy (docs/NUMERICS.md): NaN or Inf anywhere in Q, K or V is rejected
// with StatusCode::nonfinite_input and a message that locates it.
TEST(Quantize, NonFiniteInputsAreRejected) {
  const int64_t S = 9, D = 16;
  for (const char* which : {"Q", "K", "V"}) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(),
                      std::numeric_limits<float>::infinity()}) {
      std::vector<float> q(S * D, 0.5f), k(S * D, 0.25f), v(S * D, 1.f), out(S * D);
      std::vector<float>& target = which[0] == 'Q' ? q : which[0] == 'K' ? k : v;
      target[4 * D + 3] = bad;  // token 4
      for (const char* r : {"intfa", "paper", "fp8-tensor", "fp16"}) {
        AttentionOptions opt;
        opt.recipe = parse_recipe(r);
        opt.backend = Backend::cpu;
        try {
          attention(TensorView::bshd(q.data(), DType::f32, 1, S, 1, D),
                    TensorView::bshd(k.data(), DType::f32, 1, S, 1, D),
                    TensorView::bshd(v.data(), DType::f32, 1, S, 1, D),
                    TensorView::bshd(out.data(), DType::f32, 1, S, 1, D), nullptr, opt);
          ADD_FAILURE() << which << " " << bad << " " << r << ": no error";
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), StatusCode::nonfinite_input) << e.what();
          EXPECT_NE(std::string(e.what()).find("token 4"), std::string::npos) << e.what();
        }
      }
    }
  }
}

}  // namespace
}  // namespace intfa::test
