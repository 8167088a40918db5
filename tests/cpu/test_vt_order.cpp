// The token order of V̂ᵀ (VtOrder, docs/NUMERICS.md): the position maps, the
// CPU quantizer in both orders, the order's travel through quantize() and
// attention_quantized(), and the CPU kernels' refusal of interleaved16.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "core/api_internal.hpp"
#include "cpu/cpu_backend.hpp"
#include "test_util.hpp"

namespace intfa::test {
namespace {

const QuantizeOptions kCpu{Backend::cpu, nullptr};
const QuantizeOptions kCpuInterleaved{Backend::cpu, nullptr, VtOrder::interleaved16};

// The maps are usable in constant expressions (kernels may bake them in).
static_assert(vt_interleaved_token(0) == 0 && vt_interleaved_token(2) == 8 &&
                  vt_interleaved_token(15) == 15,
              "interleaved16 map");
static_assert(vt_position(17, VtOrder::interleaved16) == 16 + 1, "token 17: group 1, position 1");

TEST(VtOrder, InterleavedMapIsAPermutationWithItsInverse) {
  std::vector<int64_t> seen(16, 0);
  for (int64_t k = 0; k < 16; ++k) {
    const int64_t t = vt_interleaved_token(k);
    ASSERT_GE(t, 0);
    ASSERT_LT(t, 16);
    ++seen[static_cast<size_t>(t)];
    EXPECT_EQ(vt_interleaved_position(t), k) << "position of token " << t;
    EXPECT_EQ(vt_interleaved_token(vt_interleaved_position(k)), k) << "token " << k;
  }
  for (int64_t t = 0; t < 16; ++t) EXPECT_EQ(seen[static_cast<size_t>(t)], 1) << "token " << t;
  // Positions 4a..4a+3 hold tokens 2a, 2a+1, 2a+8, 2a+9 (the words the CUDA
  // quantizer writes).
  for (int64_t a = 0; a < 4; ++a) {
    EXPECT_EQ(vt_interleaved_token(4 * a + 0), 2 * a);
    EXPECT_EQ(vt_interleaved_token(4 * a + 1), 2 * a + 1);
    EXPECT_EQ(vt_interleaved_token(4 * a + 2), 2 * a + 8);
    EXPECT_EQ(vt_interleaved_token(4 * a + 3), 2 * a + 9);
  }
}

TEST(VtOrder, PositionsPermuteEachGroupOf16) {
  const int64_t n = 3 * kVTokenAlign;
  std::vector<int64_t> hits(static_cast<size_t>(n), 0);
  for (int64_t t = 0; t < n; ++t) {
    EXPECT_EQ(vt_position(t, VtOrder::natural), t);
    const int64_t p = vt_position(t, VtOrder::interleaved16);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, n);
    EXPECT_EQ(p / 16, t / 16) << "token " << t << " left its group";
    EXPECT_EQ(p % 16, vt_interleaved_position(t % 16));
    ++hits[static_cast<size_t>(p)];
  }
  for (int64_t p = 0; p < n; ++p) EXPECT_EQ(hits[static_cast<size_t>(p)], 1) << "position " << p;
}

TEST(VtOrder, NamesAndDefaults) {
  for (VtOrder o : {VtOrder::natural, VtOrder::interleaved16})
    EXPECT_EQ(parse_vt_order(vt_order_name(o)), o);
  EXPECT_STREQ(vt_order_name(VtOrder::interleaved16), "interleaved16");
  try {
    parse_vt_order("interleaved");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("'natural' or 'interleaved16'"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(default_vt_order(Backend::cpu), VtOrder::natural);
  const VtOrder cuda = default_vt_order(Backend::cuda);  // natural without CUDA
  EXPECT_TRUE(cuda == VtOrder::natural || cuda == VtOrder::interleaved16);
  if (!cuda_available()) {
    EXPECT_EQ(cuda, VtOrder::natural);
  }
  EXPECT_THROW(default_vt_order(Backend::automatic), Error);
}

// Interleaved bytes are the natural bytes permuted (padding zero wherever it
// lands), with the same scales; quantize_v returns the order it wrote.
TEST(VtOrder, CpuQuantizeVInterleavedIsNaturalPermuted) {
  auto rng = rng_for_test();
  const int64_t lengths[] = {1, 15, 16, 17, 100, 128, 131, 300};
  for (int trial = 0; trial < 8; ++trial) {
    Shape s = random_shape(rng);
    s.seqlen_k = lengths[trial];
    const bool bhsd = trial % 2 == 1;
    const Inputs x = make_inputs(s, rng, trial % 3 == 0 ? Dist::outlier : Dist::normal);
    std::vector<float> v_bhsd(x.v.size());
    const TensorView vin =
        bhsd ? TensorView::bhsd(v_bhsd.data(), DType::f32, s.batch, s.seqlen_k, s.kv_heads,
                                s.head_dim)
             : x.vv();
    if (bhsd)
      for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t t = 0; t < s.seqlen_k; ++t)
          for (int64_t h = 0; h < s.kv_heads; ++h)
            std::copy_n(&x.v[static_cast<size_t>(x.vv().offset(b, t, h))], s.head_dim,
                        &v_bhsd[static_cast<size_t>(vin.offset(b, t, h))]);
    const int64_t pad = padded_kv_length(s.seqlen_k);
    const int64_t rows = s.batch * s.kv_heads * s.head_dim;
    SCOPED_TRACE(s.str() + (bhsd ? " bhsd" : " bshd"));
    for (VFormat f : {VFormat::int8_per_tensor, VFormat::int8_per_channel}) {
      std::vector<int8_t> nat(static_cast<size_t>(rows * pad), 55), il(nat.size(), 66);
      std::vector<float> sn(static_cast<size_t>(rows)), si(sn.size());
      EXPECT_EQ(quantize_v(vin, f, nat.data(), sn.data(), kCpu), VtOrder::natural);
      EXPECT_EQ(quantize_v(vin, f, il.data(), si.data(), kCpuInterleaved), VtOrder::interleaved16);
      EXPECT_EQ(si, sn);
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t* n_row = nat.data() + r * pad;
        const int8_t* i_row = il.data() + r * pad;
        for (int64_t t = 0; t < pad; ++t) {
          ASSERT_EQ(i_row[vt_position(t, VtOrder::interleaved16)], n_row[t])
              << "row " << r << " token " << t;
          if (t >= s.seqlen_k) {
            ASSERT_EQ(i_row[vt_position(t, VtOrder::interleaved16)], 0) << "padding " << t;
          }
        }
      }
      // The CPU reorderer gives the same bytes both ways.
      std::vector<int8_t> back(nat.size(), 11), fwd(nat.size(), 22);
      cpu::reorder_vt(il.data(), VtOrder::interleaved16, back.data(), VtOrder::natural, rows, pad);
      cpu::reorder_vt(nat.data(), VtOrder::natural, fwd.data(), VtOrder::interleaved16, rows, pad);
      EXPECT_EQ(back, nat);
      EXPECT_EQ(fwd, il);
    }
  }
}

TEST(VtOrder, QuantizeRecordsTheOrder) {
  auto rng = rng_for_test();
  const Shape s{1, 4, 2, 9, 40, 32};
  const Inputs x = make_inputs(s, rng);
  for (const char* r : {"intfa", "paper", "half-int8"}) {
    const Recipe recipe = parse_recipe(r);
    const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q,
                                             s.seqlen_k, s.head_dim, recipe, DType::f32);
    std::vector<int8_t> q8(static_cast<size_t>(n.q8)), k8(static_cast<size_t>(n.k8)),
        vt(static_cast<size_t>(n.vt));
    std::vector<float> qs(static_cast<size_t>(n.q_scale)), ks(static_cast<size_t>(n.k_scale)),
        km(static_cast<size_t>(n.k_mean)), lo(static_cast<size_t>(n.lse_offset)),
        vs(static_cast<size_t>(n.v_scale));
    std::vector<uint16_t> v16(static_cast<size_t>(n.v16));
    auto ptr = [](auto& vec) { return vec.empty() ? nullptr : vec.data(); };
    QuantizedBuffers buf;
    buf.q8 = ptr(q8), buf.k8 = ptr(k8), buf.vt = ptr(vt), buf.q_scale = ptr(qs);
    buf.k_scale = ptr(ks), buf.k_mean = ptr(km), buf.lse_offset = ptr(lo), buf.v_scale = ptr(vs);
    buf.v16 = ptr(v16);
    EXPECT_EQ(quantize(x.qv(), x.kv(), x.vv(), recipe, buf, kCpu).vt_order, VtOrder::natural) << r;
    const VtOrder want = recipe.int8_v() ? VtOrder::interleaved16 : VtOrder::natural;
    EXPECT_EQ(quantize(x.qv(), x.kv(), x.vv(), recipe, buf, kCpuInterleaved).vt_order, want) << r;
    EXPECT_EQ(HostQuantized(x.qv(), x.kv(), x.vv(), recipe).inputs().vt_order, VtOrder::natural);
  }
}

// attention_quantized() on the CPU reads interleaved16 V̂ᵀ by reordering it
// first: the same bits as natural, for every recipe with int8 V, key blocks
// that are not multiples of 16, causal, GQA and Sq != Sk.
TEST(VtOrder, CpuAttentionQuantizedGivesTheSameBitsForBothOrders) {
  auto rng = rng_for_test();
  const char* recipes[] = {"intfa", "paper", "paper+p-u8", "intfa-smooth-k"};
  const int32_t kv_blocks[] = {0, 37, 64, 16};
  for (int trial = 0; trial < 8; ++trial) {
    const Shape s = random_shape(rng, 300);
    const Recipe recipe = parse_recipe(recipes[trial % 4]);
    SCOPED_TRACE(s.str() + " recipe=" + recipes[trial % 4]);
    const Inputs x = make_inputs(s, rng);
    const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q,
                                             s.seqlen_k, s.head_dim, recipe, DType::f32);
    std::vector<int8_t> q8(static_cast<size_t>(n.q8)), k8(static_cast<size_t>(n.k8)),
        vt_nat(static_cast<size_t>(n.vt)), vt_il(vt_nat.size());
    std::vector<float> qs(static_cast<size_t>(n.q_scale)), ks(static_cast<size_t>(n.k_scale)),
        km(static_cast<size_t>(n.k_mean) + 1), lo(static_cast<size_t>(n.lse_offset) + 1),
        vs(static_cast<size_t>(n.v_scale));
    QuantizedBuffers buf;
    buf.q8 = q8.data(), buf.k8 = k8.data(), buf.q_scale = qs.data(), buf.k_scale = ks.data();
    buf.k_mean = km.data(), buf.lse_offset = lo.data(), buf.v_scale = vs.data();
    buf.vt = vt_nat.data();
    const QuantizedInputs nat = quantize(x.qv(), x.kv(), x.vv(), recipe, buf, kCpu);
    buf.vt = vt_il.data();
    const QuantizedInputs il = quantize(x.qv(), x.kv(), x.vv(), recipe, buf, kCpuInterleaved);
    ASSERT_EQ(il.vt_order, VtOrder::interleaved16);
    if (s.seqlen_k > 2) {
      ASSERT_NE(vt_il, vt_nat);  // really another layout
    }

    AttentionOptions opt;
    opt.recipe = recipe;
    opt.backend = Backend::cpu;
    opt.causal = trial % 2 == 1;
    opt.kv_block = kv_blocks[trial % 4];
    const size_t n_out = x.q.size(), n_lse = static_cast<size_t>(s.batch * s.heads * s.seqlen_q);
    std::vector<float> out_nat(n_out, -1.f), out_il(n_out, -2.f), lse_nat(n_lse, -1.f),
        lse_il(n_lse, -2.f);
    auto out_view = [&](std::vector<float>& o) {
      return TensorView::bshd(o.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim);
    };
    attention_quantized(nat, out_view(out_nat), lse_nat.data(), opt);
    attention_quantized(il, out_view(out_il), lse_il.data(), opt);
    EXPECT_EQ(std::memcmp(out_nat.data(), out_il.data(), n_out * sizeof(float)), 0);
    EXPECT_EQ(std::memcmp(lse_nat.data(), lse_il.data(), n_lse * sizeof(float)), 0);
    // And the V̂ᵀ the caller owns is left as it was.
    std::vector<int8_t> again(vt_il.size());
    cpu::reorder_vt(vt_nat.data(), VtOrder::natural, again.data(), VtOrder::interleaved16,
                    static_cast<int64_t>(vt_il.size()) / padded_kv_length(s.seqlen_k),
                    padded_kv_length(s.seqlen_k));
    EXPECT_EQ(again, vt_il);
  }
}

// The CPU kernels themselves read natural order only, and say so.
TEST(VtOrder, CpuKernelsRejectInterleavedWithAClearError) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 1, 5, 20, 16};
  const Inputs x = make_inputs(s, rng);
  const Recipe recipe = Recipe::intfa();
  const HostQuantized qz(x.qv(), x.kv(), x.vv(), recipe);
  QuantizedInputs in = qz.inputs();
  in.vt_order = VtOrder::interleaved16;
  std::vector<float> out(x.q.size()), unit_scales;
  AttentionOptions opt;
  opt.backend = Backend::cpu;
  const detail::Shape shape{s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim};
  const AttentionParams p = detail::build_params(
      in, TensorView::bshd(out.data(), DType::f32, 1, 5, 2, 16), nullptr, opt, Backend::cpu,
      shape, unit_scales);
  ASSERT_EQ(p.v_token_order, VtOrder::interleaved16);
  for (auto* kernel : {&cpu::attention_tiled, &cpu::attention_tiled_scalar,
                       &cpu::attention_emulated}) {
    try {
      kernel(p);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::unsupported);
      const std::string msg = e.what();
      EXPECT_NE(msg.find("natural token order"), std::string::npos) << msg;
      EXPECT_NE(msg.find("quantize V with VtOrder::natural for the CPU back-end"),
                std::string::npos)
          << msg;
    }
  }
}

TEST(VtOrder, UnknownOrderValuesAreInvalidArguments) {
  auto rng = rng_for_test();
  const Shape s{1, 1, 1, 4, 8, 16};
  const Inputs x = make_inputs(s, rng);
  std::vector<int8_t> vt(static_cast<size_t>(16 * padded_kv_length(8)));
  std::vector<float> scale(16), out(x.q.size());
  const QuantizeOptions bad{Backend::cpu, nullptr, static_cast<VtOrder>(7)};
  try {
    quantize_v(x.vv(), VFormat::int8_per_channel, vt.data(), scale.data(), bad);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("QuantizeOptions.vt_order"), std::string::npos)
        << e.what();
  }
  const HostQuantized qz(x.qv(), x.kv(), x.vv(), Recipe::intfa());
  QuantizedInputs in = qz.inputs();
  in.vt_order = static_cast<VtOrder>(-3);
  AttentionOptions opt;
  opt.backend = Backend::cpu;
  try {
    attention_quantized(in, TensorView::bshd(out.data(), DType::f32, 1, 4, 1, 16), nullptr, opt);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("QuantizedInputs.vt_order"), std::string::npos)
        << e.what();
  }
}

// The one-call API on the CPU quantizes in natural order (nothing to reorder).
TEST(VtOrder, OneCallOrderOnTheCpuIsNatural) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 1, 4, 8, 16};
  const Inputs x = make_inputs(s, rng);
  std::vector<float> out(x.q.size());
  const TensorView o = TensorView::bshd(out.data(), DType::f32, 1, 4, 2, 16);
  for (const char* r : {"intfa", "paper", "half-int8", "fp16"}) {
    AttentionOptions opt;
    opt.recipe = parse_recipe(r);
    opt.backend = Backend::cpu;
    EXPECT_EQ(attention_vt_order(x.qv(), x.kv(), x.vv(), o, nullptr, opt), VtOrder::natural) << r;
  }
  AttentionOptions bad;
  bad.kv_block = -1;
  EXPECT_THROW(attention_vt_order(x.qv(), x.kv(), x.vv(), o, nullptr, bad), Error);
}

}  // namespace
}  // namespace intfa::test
