// The tiled CPU kernel against the direct emulation, bit for bit: same
// quantized inputs, same params, every recipe with int8 Q/K, random shapes
// (odd lengths, Sq != Sk, GQA, causal, D not a multiple of 16), layouts,
// output types and key-block sizes.
#include <cstring>

#include "core/api_internal.hpp"
#include "core/numeric.hpp"
#include "core/tensor_access.hpp"
#include "cpu/cpu_backend.hpp"
#include "test_util.hpp"

namespace intfa::test {
namespace {

// Reads element (b, s, h, d) of an output buffer of any float type as float.
float out_at(const std::vector<unsigned char>& buf, const TensorView& t, int64_t b, int64_t s,
             int64_t h, int64_t d) {
  return detail::load_element(buf.data(), t.dtype, t.offset(b, s, h) + d);
}

TEST(Emulation, TiledKernelEqualsDirectEmulationBitForBit) {
  auto rng = rng_for_test();
  const char* recipes[] = {"paper", "intfa", "half-int8", "paper+p-u8", "intfa-smooth-k",
                           "paper+v-channel"};
  const DType out_types[] = {DType::f32, DType::f16, DType::bf16};
  const int32_t kv_blocks[] = {16, 64, 100};
  for (int trial = 0; trial < 24; ++trial) {
    const Shape s = random_shape(rng);
    const Recipe recipe = parse_recipe(recipes[trial % 6]);
    const bool causal = (trial / 6) % 2 == 1;
    const DType out_type = out_types[trial % 3];
    const int32_t kv_block = kv_blocks[(trial / 3) % 3];
    const bool bhsd_out = trial % 2 == 0;
    SCOPED_TRACE(s.str() + " recipe=" + recipes[trial % 6] + " causal=" + std::to_string(causal) +
                 " out=" + dtype_name(out_type) + " kv_block=" + std::to_string(kv_block));
    const Inputs x = make_inputs(s, rng, Dist::normal);
    const HostQuantized qz(x.qv(), x.kv(), x.vv(), recipe);

    const size_t out_elems = static_cast<size_t>(s.batch * s.seqlen_q * s.heads * s.head_dim);
    std::vector<unsigned char> tiled(out_elems * dtype_size(out_type)),
        emulated(out_elems * dtype_size(out_type));
    auto view = [&](std::vector<unsigned char>& buf) {
      return bhsd_out ? TensorView::bhsd(buf.data(), out_type, s.batch, s.seqlen_q, s.heads, s.head_dim)
                      : TensorView::bshd(buf.data(), out_type, s.batch, s.seqlen_q, s.heads, s.head_dim);
    };
    std::vector<float> lse_tiled(static_cast<size_t>(s.batch * s.heads * s.seqlen_q), -1.f),
        lse_emulated(lse_tiled.size(), -2.f);

    AttentionOptions opt;
    opt.recipe = recipe;
    opt.causal = causal;
    opt.kv_block = kv_block;
    opt.backend = Backend::cpu;
    attention_quantized(qz.inputs(), view(tiled), lse_tiled.data(), opt);

    std::vector<float> unit_scales;
    const detail::Shape shape{s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim};
    const AttentionParams p = detail::build_params(qz.inputs(), view(emulated), lse_emulated.data(), opt,
                                                   Backend::cpu, shape, unit_scales);
    ASSERT_EQ(p.kv_block, kv_block);
    cpu::attention_emulated(p);

    const TensorView tv = view(tiled);
    int64_t mismatches = 0;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t i = 0; i < s.seqlen_q; ++i)
        for (int64_t h = 0; h < s.heads; ++h)
          for (int64_t d = 0; d < s.head_dim; ++d) {
            const float a = out_at(tiled, tv, b, i, h, d), e = out_at(emulated, tv, b, i, h, d);
            // == treats +0 and -0 as equal (a fully masked block can turn a
            // -0 accumulator into +0) and fails on any NaN.
            if (!(a == e) && ++mismatches <= 3)
              ADD_FAILURE() << "out[" << b << "," << i << "," << h << "," << d << "] tiled " << a
                            << " emulated " << e;
          }
    EXPECT_EQ(mismatches, 0);
    for (size_t i = 0; i < lse_tiled.size(); ++i)
      ASSERT_TRUE(lse_tiled[i] == lse_emulated[i] ||
                  (std::isinf(lse_tiled[i]) && lse_tiled[i] == lse_emulated[i]))
          << "lse[" << i << "] tiled " << lse_tiled[i] << " emulated " << lse_emulated[i];
  }
}

// The emulation's integer products are exact: spot-check one score's dot
// product against a hand-computed sum on extreme values (±127 everywhere, the
// largest magnitudes int8 quantization produces).
TEST(Emulation, ExtremeInt8ProductsDoNotOverflow) {
  const int64_t D = 512, S = 3;
  std::vector<float> q(static_cast<size_t>(S * D), 1.f), k(q.size(), -1.f), v(q.size(), 1.f);
  std::vector<float> out(q.size());
  AttentionOptions opt;
  opt.recipe = Recipe::paper();
  opt.backend = Backend::cpu;
  opt.softmax_scale = 1e-3f;
  attention(TensorView::bshd(q.data(), DType::f32, 1, S, 1, D),
            TensorView::bshd(k.data(), DType::f32, 1, S, 1, D),
            TensorView::bshd(v.data(), DType::f32, 1, S, 1, D),
            TensorView::bshd(out.data(), DType::f32, 1, S, 1, D), nullptr, opt);
  // All scores equal (127·127·512 = 8258048 < 2^31), so O = mean of V = 1.
  for (float o : out) EXPECT_NEAR(o, 1.f, 1e-2f);
}

}  // namespace
}  // namespace intfa::test
