// The C API: same results as the C++ API, status codes and messages.
#include "intfa/intfa.h"

#include <cstring>

#include "test_util.hpp"

namespace intfa::test {
namespace {

// Natural-order V̂ᵀ rows to interleaved16, by the position map.
void cpu_reorder(const int8_t* natural, int8_t* interleaved, int64_t rows, int64_t pad) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t t = 0; t < pad; ++t)
      interleaved[r * pad + vt_position(t, VtOrder::interleaved16)] = natural[r * pad + t];
}

TEST(CApi, AttentionMatchesCpp) {
  auto rng = rng_for_test();
  const Shape s{2, 4, 2, 19, 23, 24};
  const Inputs x = make_inputs(s, rng);
  std::vector<float> out_c(x.q.size()), out_cpp(x.q.size()), lse_c(static_cast<size_t>(2 * 4 * 19));
  const intfa_tensor q = intfa_tensor_bshd(x.q.data(), INTFA_F32, 2, 19, 4, 24);
  const intfa_tensor k = intfa_tensor_bshd(x.k.data(), INTFA_F32, 2, 23, 2, 24);
  const intfa_tensor v = intfa_tensor_bshd(x.v.data(), INTFA_F32, 2, 23, 2, 24);
  const intfa_tensor o = intfa_tensor_bshd(out_c.data(), INTFA_F32, 2, 19, 4, 24);
  intfa_attention_options opt;
  intfa_attention_options_init(&opt);
  opt.causal = 1;
  opt.recipe = "paper+p-u8";
  opt.backend = INTFA_BACKEND_CPU;
  ASSERT_EQ(intfa_attention(&q, &k, &v, &o, lse_c.data(), &opt), INTFA_OK) << intfa_last_error();
  AttentionOptions cpp;
  cpp.causal = true;
  cpp.recipe = parse_recipe("paper+p-u8");
  cpp.backend = Backend::cpu;
  attention(x.qv(), x.kv(), x.vv(),
            TensorView::bshd(out_cpp.data(), DType::f32, 2, 19, 4, 24), nullptr, cpp);
  EXPECT_EQ(std::memcmp(out_c.data(), out_cpp.data(), out_c.size() * sizeof(float)), 0);
}

TEST(CApi, ErrorsComeBackAsStatusAndMessage) {
  std::vector<float> buf(64, 1.f);
  const intfa_tensor t = intfa_tensor_bshd(buf.data(), INTFA_F32, 1, 4, 2, 8);
  const intfa_tensor k = intfa_tensor_bshd(buf.data(), INTFA_F32, 1, 4, 3, 8);
  intfa_attention_options opt;
  intfa_attention_options_init(&opt);
  opt.backend = INTFA_BACKEND_CPU;
  EXPECT_EQ(intfa_attention(&t, &k, &k, &t, nullptr, &opt), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("multiple of KV heads"), std::string::npos)
      << intfa_last_error();
  EXPECT_EQ(intfa_attention(nullptr, &t, &t, &t, nullptr, &opt), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("q is NULL"), std::string::npos);
  opt.recipe = "nope";
  EXPECT_EQ(intfa_attention(&t, &t, &t, &t, nullptr, &opt), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("bad recipe 'nope'"), std::string::npos);
  EXPECT_EQ(intfa_recipe_valid("intfa-p-u8"), INTFA_OK);
  EXPECT_EQ(intfa_recipe_valid("paper+x"), INTFA_ERROR_INVALID_ARGUMENT);
  intfa_tensor bad = t;
  bad.dtype = static_cast<intfa_dtype>(42);
  opt.recipe = nullptr;
  EXPECT_EQ(intfa_attention(&bad, &t, &t, &t, nullptr, &opt), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("unknown dtype"), std::string::npos);
  EXPECT_STREQ(intfa_status_string(INTFA_ERROR_NONFINITE_INPUT), "non-finite input");
  EXPECT_EQ(intfa_padded_kv_length(129), 256);
  EXPECT_STRNE(intfa_version(), "");
}

// The V̂ᵀ order: quantize in either order, tell attention_quantized which.
TEST(CApi, VtOrder) {
  auto rng = rng_for_test();
  const Shape s{1, 2, 1, 7, 45, 16};
  const Inputs x = make_inputs(s, rng);
  const intfa_tensor v = intfa_tensor_bshd(x.v.data(), INTFA_F32, 1, 45, 1, 16);
  const int64_t pad = intfa_padded_kv_length(45);
  std::vector<int8_t> vt_nat(static_cast<size_t>(16 * pad)), vt_def(vt_nat.size()),
      vt_il(vt_nat.size());
  std::vector<float> vs(16), vs2(16);
  intfa_vt_order used = INTFA_VT_ORDER_INTERLEAVED16;
  ASSERT_EQ(intfa_quantize_v(&v, 1, vt_nat.data(), vs.data(), INTFA_BACKEND_CPU, nullptr), INTFA_OK);
  ASSERT_EQ(intfa_quantize_v_ordered(&v, 1, INTFA_VT_ORDER_DEFAULT, vt_def.data(), vs2.data(),
                                     &used, INTFA_BACKEND_CPU, nullptr),
            INTFA_OK)
      << intfa_last_error();
  EXPECT_EQ(used, INTFA_VT_ORDER_NATURAL);
  EXPECT_EQ(vt_def, vt_nat);
  ASSERT_EQ(intfa_quantize_v_ordered(&v, 1, INTFA_VT_ORDER_INTERLEAVED16, vt_il.data(),
                                     vs2.data(), &used, INTFA_BACKEND_CPU, nullptr),
            INTFA_OK)
      << intfa_last_error();
  EXPECT_EQ(used, INTFA_VT_ORDER_INTERLEAVED16);
  for (int64_t d = 0; d < 16; ++d)
    for (int64_t t = 0; t < pad; ++t)
      ASSERT_EQ(vt_il[static_cast<size_t>(d * pad +
                                          intfa_vt_position(t, INTFA_VT_ORDER_INTERLEAVED16))],
                vt_nat[static_cast<size_t>(d * pad + t)]);
  EXPECT_EQ(intfa_vt_position(20, INTFA_VT_ORDER_NATURAL), 20);
  EXPECT_EQ(intfa_vt_position(2, INTFA_VT_ORDER_INTERLEAVED16), 4);
  EXPECT_EQ(intfa_vt_position(2, INTFA_VT_ORDER_DEFAULT), -1);
  EXPECT_EQ(intfa_vt_position(-1, INTFA_VT_ORDER_NATURAL), -1);

  intfa_vt_order def = INTFA_VT_ORDER_INTERLEAVED16;
  EXPECT_EQ(intfa_default_vt_order(INTFA_BACKEND_CPU, &def), INTFA_OK);
  EXPECT_EQ(def, INTFA_VT_ORDER_NATURAL);
  EXPECT_EQ(intfa_default_vt_order(INTFA_BACKEND_AUTO, &def), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(intfa_default_vt_order(INTFA_BACKEND_CPU, nullptr), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(intfa_quantize_v_ordered(&v, 1, static_cast<intfa_vt_order>(5), vt_il.data(),
                                     vs2.data(), nullptr, INTFA_BACKEND_CPU, nullptr),
            INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("unknown V̂ᵀ order value 5"), std::string::npos)
      << intfa_last_error();

  // attention_quantized: both orders, the same bits; DEFAULT is not an order.
  const HostQuantized qz(x.qv(), x.kv(), x.vv(), Recipe::intfa());
  const QuantizedInputs& in = qz.inputs();
  intfa_quantized_inputs ci;
  std::memset(&ci, 0, sizeof ci);
  ci.q = intfa_tensor_bshd(in.q.data, INTFA_I8, 1, 7, 2, 16);
  ci.k = intfa_tensor_bshd(in.k.data, INTFA_I8, 1, 45, 1, 16);
  ci.q_scale = in.q_scale, ci.k_scale = in.k_scale, ci.lse_offset = in.lse_offset;
  ci.vt = in.vt, ci.v_scale = in.v_scale;
  std::vector<int8_t> vt_qil(vt_nat.size());
  cpu_reorder(in.vt, vt_qil.data(), 16, pad);
  std::vector<float> out_nat(x.q.size()), out_il(x.q.size());
  const intfa_tensor on = intfa_tensor_bshd(out_nat.data(), INTFA_F32, 1, 7, 2, 16);
  const intfa_tensor oi = intfa_tensor_bshd(out_il.data(), INTFA_F32, 1, 7, 2, 16);
  intfa_attention_options opt;
  intfa_attention_options_init(&opt);
  opt.backend = INTFA_BACKEND_CPU;
  ASSERT_EQ(intfa_attention_quantized(&ci, &on, nullptr, &opt), INTFA_OK) << intfa_last_error();
  ci.vt = vt_qil.data();
  ci.vt_order = INTFA_VT_ORDER_INTERLEAVED16;
  ASSERT_EQ(intfa_attention_quantized(&ci, &oi, nullptr, &opt), INTFA_OK) << intfa_last_error();
  EXPECT_EQ(std::memcmp(out_nat.data(), out_il.data(), out_nat.size() * sizeof(float)), 0);
  ci.vt_order = INTFA_VT_ORDER_DEFAULT;
  EXPECT_EQ(intfa_attention_quantized(&ci, &oi, nullptr, &opt), INTFA_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(intfa_last_error()).find("inputs->vt_order"), std::string::npos)
      << intfa_last_error();
}

}  // namespace
}  // namespace intfa::test
