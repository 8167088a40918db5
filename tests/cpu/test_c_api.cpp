// The C API: same results as the C++ API, status codes and messages.
#include "intfa/intfa.h"

#include <cstring>

#include "test_util.hpp"

namespace intfa::test {
namespace {

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

}  // namespace
}  // namespace intfa::test
