// Every kind of bad input gets a clear error (code + message naming the
// problem) and nothing is computed: the output keeps its poison.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "test_util.hpp"

namespace intfa::test {
namespace {

struct Problem {
  int64_t B = 1, H = 4, Hk = 2, Sq = 10, Sk = 12, D = 16;
  std::vector<float> q, k, v, out;
  Problem() {
    q.assign(static_cast<size_t>(B * Sq * H * D), 0.5f);
    k.assign(static_cast<size_t>(B * Sk * Hk * D), 0.25f);
    v.assign(k.size(), 1.f);
    out.assign(q.size(), -1234.f);
  }
  TensorView qv() { return TensorView::bshd(q.data(), DType::f32, B, Sq, H, D); }
  TensorView kv() { return TensorView::bshd(k.data(), DType::f32, B, Sk, Hk, D); }
  TensorView vv() { return TensorView::bshd(v.data(), DType::f32, B, Sk, Hk, D); }
  TensorView ov() { return TensorView::bshd(out.data(), DType::f32, B, Sq, H, D); }
  bool untouched() const {
    for (float o : out)
      if (o != -1234.f) return false;
    return true;
  }
};

void expect_error(const std::function<void()>& fn, StatusCode code, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

AttentionOptions cpu() {
  AttentionOptions o;
  o.backend = Backend::cpu;
  return o;
}

TEST(Errors, ShapeMismatches) {
  Problem p;
  auto call = [&](TensorView q, TensorView k, TensorView v, TensorView o) {
    return [=] { attention(q, k, v, o, nullptr, cpu()); };
  };
  TensorView k = p.kv();
  k.batch = 2;
  expect_error(call(p.qv(), k, p.vv(), p.ov()), StatusCode::invalid_argument, "batch mismatch");
  k = p.kv();
  k.dim = 8;
  expect_error(call(p.qv(), k, p.vv(), p.ov()), StatusCode::invalid_argument, "head dim mismatch");
  TensorView v = p.vv();
  v.seq = 11;
  expect_error(call(p.qv(), p.kv(), v, p.ov()), StatusCode::invalid_argument, "must have the shape of k");
  TensorView o = p.ov();
  o.heads = 2;
  expect_error(call(p.qv(), p.kv(), p.vv(), o), StatusCode::invalid_argument, "must have the shape of q");
  Problem gqa;
  gqa.H = 3;
  gqa.q.assign(static_cast<size_t>(gqa.Sq * 3 * gqa.D), 0.f);
  gqa.out.assign(gqa.q.size(), 0.f);
  expect_error(call(gqa.qv(), gqa.kv(), gqa.vv(), gqa.ov()), StatusCode::invalid_argument,
               "multiple of KV heads");
  EXPECT_TRUE(p.untouched());
}

TEST(Errors, SizesAndHeadDims) {
  Problem p;
  TensorView q = p.qv();
  q.seq = 0;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "at least 1");
  // D = 513 is beyond the CPU back-end's range.
  std::vector<float> big(513 * 2, 1.f), out(513, 0.f);
  const TensorView b1 = TensorView::bshd(big.data(), DType::f32, 1, 1, 1, 513);
  expect_error([&] { attention(b1, b1, b1, TensorView::bshd(out.data(), DType::f32, 1, 1, 1, 513), nullptr, cpu()); },
               StatusCode::unsupported, "head dim 513");
}

TEST(Errors, PointersStridesAndTypes) {
  Problem p;
  TensorView q = p.qv();
  q.data = nullptr;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "q is a null pointer");
  q = p.qv();
  q.stride_dim = 2;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "must be contiguous");
  q = p.qv();
  q.stride_seq = -q.stride_seq;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "negative stride");
  q = p.qv();
  q.data = reinterpret_cast<char*>(p.q.data()) + 1;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "not aligned");
  q = p.qv();
  q.dtype = DType::i8;
  expect_error([&] { attention(q, p.kv(), p.vv(), p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "element type i8");
  TensorView o = p.ov();
  o.dtype = DType::u8;
  expect_error([&] { attention(p.qv(), p.kv(), p.vv(), o, nullptr, cpu()); },
               StatusCode::invalid_argument, "out has element type u8");
  EXPECT_TRUE(p.untouched());
}

TEST(Errors, Options) {
  Problem p;
  AttentionOptions o = cpu();
  o.softmax_scale = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { attention(p.qv(), p.kv(), p.vv(), p.ov(), nullptr, o); },
               StatusCode::invalid_argument, "softmax_scale");
  o = cpu();
  o.softmax_scale = -1.f;
  expect_error([&] { attention(p.qv(), p.kv(), p.vv(), p.ov(), nullptr, o); },
               StatusCode::invalid_argument, "softmax_scale");
  o = cpu();
  o.kv_block = 5000;
  expect_error([&] { attention(p.qv(), p.kv(), p.vv(), p.ov(), nullptr, o); },
               StatusCode::invalid_argument, "kv_block");
  o = cpu();
  o.backend = static_cast<Backend>(7);
  expect_error([&] { attention(p.qv(), p.kv(), p.vv(), p.ov(), nullptr, o); },
               StatusCode::invalid_argument, "back-end");
  expect_error([] { parse_backend("gpu"); }, StatusCode::invalid_argument, "unknown back-end 'gpu'");
  expect_error([] { parse_recipe("int4"); }, StatusCode::invalid_argument, "unknown base");
  expect_error([] { parse_recipe("paper+fast"); }, StatusCode::invalid_argument, "unknown knob 'fast'");
  expect_error([] { parse_recipe("fp16+smooth-k"); }, StatusCode::invalid_argument, "needs int8 Q/K");
  expect_error([] { parse_recipe("half-int8+p-u8"); }, StatusCode::invalid_argument, "needs int8 P and V");
  expect_error([] { parse_recipe("paper+"); }, StatusCode::invalid_argument, "empty knob");
  EXPECT_TRUE(p.untouched());
}

TEST(Errors, QuantizedInputs) {
  Problem p;
  std::vector<int8_t> q8(p.q.size()), k8(p.k.size());
  std::vector<float> qs(static_cast<size_t>(p.H * p.Sq)), ks(static_cast<size_t>(p.Hk * p.Sk));
  QuantizedInputs in;
  in.recipe = Recipe::intfa();
  in.q = TensorView::bshd(q8.data(), DType::i8, p.B, p.Sq, p.H, p.D);
  in.k = TensorView::bshd(k8.data(), DType::i8, p.B, p.Sk, p.Hk, p.D);
  in.q_scale = qs.data();
  in.k_scale = ks.data();
  expect_error([&] { attention_quantized(in, p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "vt is a null pointer");
  AttentionOptions paper = cpu();
  paper.recipe = Recipe::paper();
  expect_error([&] { attention_quantized(in, p.ov(), nullptr, paper); },
               StatusCode::invalid_argument, "differs from AttentionOptions.recipe");
  in.q_scale = nullptr;
  expect_error([&] { attention_quantized(in, p.ov(), nullptr, cpu()); },
               StatusCode::invalid_argument, "q_scale is a null pointer");
  in.recipe = Recipe::fp16();
  AttentionOptions fp16 = cpu();
  fp16.recipe = Recipe::fp16();
  expect_error([&] { attention_quantized(in, p.ov(), nullptr, fp16); },
               StatusCode::invalid_argument, "float baseline");
  std::vector<float> scale(static_cast<size_t>(p.Hk * p.D));
  expect_error([&] { quantize_v(p.vv(), VFormat::fp16, reinterpret_cast<int8_t*>(k8.data()), scale.data(), {Backend::cpu, nullptr}); },
               StatusCode::invalid_argument, "int8 V only");
  EXPECT_TRUE(p.untouched());
}

TEST(Errors, QuantizeNeedsAnInt8Recipe) {
  Problem p;
  expect_error([&] { HostQuantized(p.qv(), p.kv(), p.vv(), Recipe::fp8_tensor()); },
               StatusCode::invalid_argument, "float baseline: nothing to quantize");
  QuantizedBuffers none;
  expect_error([&] { quantize(p.qv(), p.kv(), p.vv(), Recipe::intfa(), none, {Backend::cpu, nullptr}); },
               StatusCode::invalid_argument, "null pointer");
}

}  // namespace
}  // namespace intfa::test
