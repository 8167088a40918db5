// CUDA quantization against the CPU back-end: the same bytes and scales.
// Every rounding is shared (core/numeric.hpp); only two float64 sums are
// formed in another order (channel_mean over tokens, q·mean(K) over channels),
// so their fp32 results can differ in the last bit when the two float64 sums
// straddle an fp32 rounding boundary: those are counted and printed, and must
// stay rare. Everything downstream of them is compared with the CPU's own
// mean fed to the GPU, and must then be identical.
#include <cmath>
#include <limits>

#include "cuda/cuda_test_util.hpp"

namespace intfa::test {
namespace {

const QuantizeOptions kCpu{Backend::cpu, nullptr, VtOrder::natural};
const QuantizeOptions kGpu{Backend::cuda, nullptr, VtOrder::natural};

struct Case {
  Shape shape;
  DType dtype;
  bool bhsd;
};

TensorView view(const void* data, DType dtype, const Shape& s, int64_t seq, int64_t heads,
                bool bhsd) {
  return bhsd ? TensorView::bhsd(data, dtype, s.batch, seq, heads, s.head_dim)
              : TensorView::bshd(data, dtype, s.batch, seq, heads, s.head_dim);
}

size_t count_diff(const std::vector<float>& a, const std::vector<float>& b, double rel_tol,
                  const char* what) {
  EXPECT_EQ(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;
    ++n;
    EXPECT_LE(std::fabs(a[i] - b[i]), rel_tol * (std::fabs(b[i]) + 1e-30))
        << what << " element " << i << ": gpu " << a[i] << " cpu " << b[i];
  }
  return n;
}

TEST(CudaQuantize, SameBytesAndScalesAsCpu) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  size_t mean_diffs = 0, mean_total = 0, offset_diffs = 0, offset_total = 0, k_chain_diffs = 0;
  const int64_t dims[] = {16, 17, 64, 100, 128, 256};
  for (int iter = 0; iter < 12; ++iter) {
    Shape s = random_shape(rng, 300);
    s.head_dim = dims[iter % 6];
    const DType dtype = iter % 3 == 0 ? DType::f32 : iter % 3 == 1 ? DType::f16 : DType::bf16;
    const bool bhsd = iter % 2 == 1;
    const Inputs x = make_inputs(s, rng, iter % 4 == 0 ? Dist::outlier : Dist::normal);
    SCOPED_TRACE(s.str() + " " + dtype_name(dtype) + (bhsd ? " bhsd" : " bshd"));
    // Host inputs in `dtype`, bshd or bhsd (the same values for both back-ends).
    auto relayout = [&](const std::vector<float>& src, int64_t seq, int64_t heads) {
      std::vector<float> out(src.size());
      const TensorView from = TensorView::bshd(src.data(), DType::f32, s.batch, seq, heads, s.head_dim);
      const TensorView to = view(out.data(), DType::f32, s, seq, heads, bhsd);
      for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t t = 0; t < seq; ++t)
          for (int64_t h = 0; h < heads; ++h)
            for (int64_t d = 0; d < s.head_dim; ++d)
              out[static_cast<size_t>(to.offset(b, t, h) + d)] =
                  src[static_cast<size_t>(from.offset(b, t, h) + d)];
      return encode(out, dtype);
    };
    const auto qh = relayout(x.q, s.seqlen_q, s.heads);
    const auto kh = relayout(x.k, s.seqlen_k, s.kv_heads);
    const auto vh = relayout(x.v, s.seqlen_k, s.kv_heads);
    GuardedBuffer qd(qh.size()), kd(kh.size()), vd(vh.size());
    qd.upload(qh.data(), qh.size()), kd.upload(kh.data(), kh.size()), vd.upload(vh.data(), vh.size());
    const TensorView qc = view(qh.data(), dtype, s, s.seqlen_q, s.heads, bhsd);
    const TensorView kc = view(kh.data(), dtype, s, s.seqlen_k, s.kv_heads, bhsd);
    const TensorView vc = view(vh.data(), dtype, s, s.seqlen_k, s.kv_heads, bhsd);
    const TensorView qg = view(qd.get(), dtype, s, s.seqlen_q, s.heads, bhsd);
    const TensorView kg = view(kd.get(), dtype, s, s.seqlen_k, s.kv_heads, bhsd);
    const TensorView vg = view(vd.get(), dtype, s, s.seqlen_k, s.kv_heads, bhsd);

    // channel mean
    const size_t n_mean = static_cast<size_t>(s.batch * s.kv_heads * s.head_dim);
    std::vector<float> mean_c(n_mean);
    channel_mean(kc, mean_c.data(), kCpu);
    GuardedBuffer mean_g(n_mean * 4);
    channel_mean(kg, mean_g.as<float>(), kGpu);
    mean_diffs += count_diff(mean_g.download<float>(), mean_c, 1e-6, "mean");
    mean_total += n_mean;
    EXPECT_EQ(mean_g.guard_damage(), 0u);

    // K with the CPU's mean: identical bytes and scales.
    const size_t n_k = static_cast<size_t>(s.batch * s.seqlen_k * s.kv_heads * s.head_dim);
    const size_t n_ks = static_cast<size_t>(s.batch * s.kv_heads * s.seqlen_k);
    std::vector<int8_t> k8c(n_k);
    std::vector<float> ksc(n_ks);
    quantize_per_token(kc, mean_c.data(), view(k8c.data(), DType::i8, s, s.seqlen_k, s.kv_heads, bhsd),
                       ksc.data(), kCpu);
    GuardedBuffer mean_cd(n_mean * 4), k8g(n_k), ksg(n_ks * 4);
    mean_cd.upload(mean_c.data(), n_mean * 4);
    quantize_per_token(kg, mean_cd.as<float>(),
                       view(k8g.get(), DType::i8, s, s.seqlen_k, s.kv_heads, bhsd),
                       ksg.as<float>(), kGpu);
    EXPECT_EQ(k8g.download<int8_t>(), k8c);
    EXPECT_EQ(ksg.download<float>(), ksc);
    EXPECT_EQ(k8g.guard_damage() + ksg.guard_damage(), 0u);
    // The whole GPU chain (its own mean): count byte differences.
    quantize_per_token(kg, mean_g.as<float>(),
                       view(k8g.get(), DType::i8, s, s.seqlen_k, s.kv_heads, bhsd),
                       ksg.as<float>(), kGpu);
    const auto k8_chain = k8g.download<int8_t>();
    for (size_t i = 0; i < n_k; ++i) k_chain_diffs += k8_chain[i] != k8c[i];

    // Q with lse offsets (CPU mean on both).
    const size_t n_q = static_cast<size_t>(s.batch * s.seqlen_q * s.heads * s.head_dim);
    const size_t n_qs = static_cast<size_t>(s.batch * s.heads * s.seqlen_q);
    std::vector<int8_t> q8c(n_q);
    std::vector<float> qsc(n_qs), offc(n_qs);
    quantize_q(qc, view(q8c.data(), DType::i8, s, s.seqlen_q, s.heads, bhsd), qsc.data(),
               mean_c.data(), s.kv_heads, offc.data(), kCpu);
    GuardedBuffer q8g(n_q), qsg(n_qs * 4), offg(n_qs * 4);
    quantize_q(qg, view(q8g.get(), DType::i8, s, s.seqlen_q, s.heads, bhsd), qsg.as<float>(),
               mean_cd.as<float>(), s.kv_heads, offg.as<float>(), kGpu);
    EXPECT_EQ(q8g.download<int8_t>(), q8c);
    EXPECT_EQ(qsg.download<float>(), qsc);
    offset_diffs += count_diff(offg.download<float>(), offc, 1e-5, "lse_offset");
    offset_total += n_qs;
    EXPECT_EQ(q8g.guard_damage() + qsg.guard_damage() + offg.guard_damage(), 0u);

    // V, both scale formats and both token orders; V̂ᵀ including its zero
    // padding.
    const int64_t pad = padded_kv_length(s.seqlen_k);
    const size_t n_vt = static_cast<size_t>(s.batch * s.kv_heads * s.head_dim * pad);
    for (VFormat f : {VFormat::int8_per_tensor, VFormat::int8_per_channel}) {
      for (VtOrder order : {VtOrder::natural, VtOrder::interleaved16}) {
        SCOPED_TRACE(vt_order_name(order));
        std::vector<int8_t> vtc(n_vt, 55);
        std::vector<float> vsc(n_mean);
        const QuantizeOptions cpu{Backend::cpu, nullptr, order}, gpu{Backend::cuda, nullptr, order};
        EXPECT_EQ(quantize_v(vc, f, vtc.data(), vsc.data(), cpu), order);
        GuardedBuffer vtg(n_vt), vsg(n_mean * 4);
        EXPECT_EQ(quantize_v(vg, f, vtg.as<int8_t>(), vsg.as<float>(), gpu), order);
        EXPECT_EQ(vtg.download<int8_t>(), vtc);
        EXPECT_EQ(vsg.download<float>(), vsc);
        EXPECT_EQ(vtg.guard_damage() + vsg.guard_damage(), 0u);
      }
    }
  }
  std::printf("[ intfa ] channel_mean: %zu of %zu differ in the last bit (float64 sums in "
              "another order); lse_offset: %zu of %zu; K̂ bytes via the GPU's own mean: %zu "
              "differ\n",
              mean_diffs, mean_total, offset_diffs, offset_total, k_chain_diffs);
  // A last-bit difference needs the two float64 sums to straddle an fp32
  // rounding boundary: about 2^-29 of the cases; allow a handful.
  EXPECT_LE(mean_diffs, 2 + mean_total / 10000);
  EXPECT_LE(offset_diffs, 2 + offset_total / 10000);
}

// interleaved16 V̂ᵀ from the GPU: the CPU's bytes for every padding case
// (lengths around the 16-token groups, the 64-token CTA tiles and the
// 128-token padding), and the natural bytes permuted by vt_position.
TEST(CudaQuantize, InterleavedVtMatchesCpuAtEveryLength) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  const int64_t lengths[] = {1, 2, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 200, 1000};
  for (int64_t sk : lengths) {
    const Shape s{2, 3, 3, 1, sk, 64};
    SCOPED_TRACE("Sk=" + std::to_string(sk));
    const Inputs x = make_inputs(s, rng, Dist::normal);
    const auto vh = encode(x.v, DType::f16);
    GuardedBuffer vd(vh.size());
    vd.upload(vh.data(), vh.size());
    const TensorView vc = TensorView::bshd(vh.data(), DType::f16, 2, sk, 3, 64);
    const TensorView vg = TensorView::bshd(vd.get(), DType::f16, 2, sk, 3, 64);
    const int64_t pad = padded_kv_length(sk), rows = 2 * 3 * 64;
    const size_t n_vt = static_cast<size_t>(rows * pad);
    std::vector<int8_t> nat(n_vt), il(n_vt);
    std::vector<float> scale(static_cast<size_t>(rows));
    quantize_v(vc, VFormat::int8_per_channel, nat.data(), scale.data(), kCpu);
    quantize_v(vc, VFormat::int8_per_channel, il.data(), scale.data(),
               QuantizeOptions{Backend::cpu, nullptr, VtOrder::interleaved16});
    GuardedBuffer vtg(n_vt), vsg(static_cast<size_t>(rows) * 4);
    EXPECT_EQ(quantize_v(vg, VFormat::int8_per_channel, vtg.as<int8_t>(), vsg.as<float>(),
                         QuantizeOptions{Backend::cuda, nullptr, VtOrder::interleaved16}),
              VtOrder::interleaved16);
    const auto gpu = vtg.download<int8_t>();
    EXPECT_EQ(gpu, il);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t t = 0; t < pad; ++t)
        ASSERT_EQ(gpu[static_cast<size_t>(r * pad + vt_position(t, VtOrder::interleaved16))],
                  nat[static_cast<size_t>(r * pad + t)])
            << "row " << r << " token " << t;
    EXPECT_EQ(vtg.guard_damage() + vsg.guard_damage(), 0u);
  }
}

// The default order is the device's; quantize() records it.
TEST(CudaQuantize, DefaultOrderIsTheDevicesAndRecorded) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  const Shape s{1, 4, 2, 33, 70, 128};
  const Inputs x = make_inputs(s, rng);
  const auto qh = encode(x.q, DType::f16), kh = encode(x.k, DType::f16),
             vh = encode(x.v, DType::f16);
  GuardedBuffer qd(qh.size()), kd(kh.size()), vd(vh.size());
  qd.upload(qh.data(), qh.size()), kd.upload(kh.data(), kh.size()), vd.upload(vh.data(), vh.size());
  const TensorView q = TensorView::bshd(qd.get(), DType::f16, 1, 33, 4, 128);
  const TensorView k = TensorView::bshd(kd.get(), DType::f16, 1, 70, 2, 128);
  const TensorView v = TensorView::bshd(vd.get(), DType::f16, 1, 70, 2, 128);
  const Recipe r = Recipe::intfa();
  const QuantizedSizes n = quantized_sizes(1, 4, 2, 33, 70, 128, r, DType::f16);
  GuardedBuffer q8(n.q8), k8(n.k8), qs(n.q_scale * 4), ks(n.k_scale * 4), km(n.k_mean * 4),
      lo(n.lse_offset * 4), vt(n.vt), vs(n.v_scale * 4);
  QuantizedBuffers buf;
  buf.q8 = q8.as<int8_t>(), buf.k8 = k8.as<int8_t>(), buf.q_scale = qs.as<float>();
  buf.k_scale = ks.as<float>(), buf.k_mean = km.as<float>(), buf.lse_offset = lo.as<float>();
  buf.vt = vt.as<int8_t>(), buf.v_scale = vs.as<float>();
  const VtOrder def = default_vt_order(Backend::cuda);
  EXPECT_EQ(quantize(q, k, v, r, buf, QuantizeOptions{Backend::cuda, nullptr}).vt_order, def);
  for (VtOrder o : {VtOrder::natural, VtOrder::interleaved16})
    EXPECT_EQ(quantize(q, k, v, r, buf, QuantizeOptions{Backend::cuda, nullptr, o}).vt_order, o);
  std::printf("[ intfa ] default V̂ᵀ order on this device: %s\n", vt_order_name(def));
}

// quantize() runs V's chain on a side stream beside K's and Q's and reads
// the non-finite flag once: its bytes must equal the entry points called one
// after another on one stream (poisoned buffers, so a missed join or an
// unordered read shows), and a NaN in K is reported before one in V.
TEST(CudaQuantize, WholeQuantizeMatchesEntryPointsInTurn) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  const Shape s{2, 6, 3, 129, 517, 128};
  const Inputs x = make_inputs(s, rng);
  const auto qh = encode(x.q, DType::f16), kh = encode(x.k, DType::f16), vh = encode(x.v, DType::f16);
  GuardedBuffer qd(qh.size()), kd(kh.size()), vd(vh.size());
  qd.upload(qh.data(), qh.size()), kd.upload(kh.data(), kh.size()), vd.upload(vh.data(), vh.size());
  const TensorView q = TensorView::bshd(qd.get(), DType::f16, s.batch, s.seqlen_q, s.heads, s.head_dim);
  const TensorView k = TensorView::bshd(kd.get(), DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  const TensorView v = TensorView::bshd(vd.get(), DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
  const Recipe r = parse_recipe("intfa-v-channel");
  const QuantizedSizes n =
      quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim, r, DType::f16);
  struct Buffers {
    GuardedBuffer q8, k8, qs, ks, km, lo, vt, vs;
    QuantizedBuffers view;
    explicit Buffers(const QuantizedSizes& n)
        : q8(n.q8), k8(n.k8), qs(n.q_scale * 4), ks(n.k_scale * 4), km(n.k_mean * 4),
          lo(n.lse_offset * 4), vt(n.vt), vs(n.v_scale * 4) {
      for (GuardedBuffer* b : {&q8, &k8, &qs, &ks, &km, &lo, &vt, &vs}) b->poison();
      view.q8 = q8.as<int8_t>(), view.k8 = k8.as<int8_t>(), view.q_scale = qs.as<float>();
      view.k_scale = ks.as<float>(), view.k_mean = km.as<float>(), view.lse_offset = lo.as<float>();
      view.vt = vt.as<int8_t>(), view.v_scale = vs.as<float>();
    }
  };
  Buffers whole(n), turn(n);
  const QuantizeOptions opt{Backend::cuda, nullptr, VtOrder::natural};
  quantize(q, k, v, r, whole.view, opt);
  channel_mean(k, turn.view.k_mean, opt);
  quantize_per_token(k, turn.view.k_mean,
                     TensorView::bshd(turn.view.k8, DType::i8, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
                     turn.view.k_scale, opt);
  quantize_q(q, TensorView::bshd(turn.view.q8, DType::i8, s.batch, s.seqlen_q, s.heads, s.head_dim),
             turn.view.q_scale, turn.view.k_mean, s.kv_heads, turn.view.lse_offset, opt);
  quantize_v(v, r.v, turn.view.vt, turn.view.v_scale, opt);
  INTFA_CUDA_OK(cudaDeviceSynchronize());
  const std::pair<GuardedBuffer*, GuardedBuffer*> pairs[] = {
      {&whole.q8, &turn.q8}, {&whole.k8, &turn.k8}, {&whole.qs, &turn.qs}, {&whole.ks, &turn.ks},
      {&whole.km, &turn.km}, {&whole.lo, &turn.lo}, {&whole.vt, &turn.vt}, {&whole.vs, &turn.vs}};
  const char* names[] = {"q8", "k8", "q_scale", "k_scale", "k_mean", "lse_offset", "vt", "v_scale"};
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(pairs[i].first->download<uint8_t>(), pairs[i].second->download<uint8_t>()) << names[i];
    EXPECT_EQ(pairs[i].first->guard_damage(), 0u) << names[i];
  }

  // NaN in K (token 5, head 1) and in V (token 300, head 2): K is named.
  auto with_nan = [&](const std::vector<uint8_t>& h, int64_t token, int64_t head) {
    std::vector<uint8_t> y = h;
    const size_t at = static_cast<size_t>(((0 * s.seqlen_k + token) * s.kv_heads + head) * s.head_dim + 7);
    y[2 * at] = 0x00, y[2 * at + 1] = 0x7e;  // fp16 NaN
    return y;
  };
  auto expect_named = [&](const char* what, const char* token) {
    try {
      quantize(q, k, v, r, whole.view, opt);
      ADD_FAILURE() << "no error, expected one naming " << what;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::nonfinite_input) << e.what();
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(what, 0), 0u) << msg;
      EXPECT_NE(msg.find(token), std::string::npos) << msg;
    }
  };
  const auto vbad = with_nan(vh, 300, 2);
  vd.upload(vbad.data(), vbad.size());
  expect_named("V", "token 300");
  const auto kbad = with_nan(kh, 5, 1);
  kd.upload(kbad.data(), kbad.size());
  expect_named("K", "token 5");
  // Clean inputs again: no stale error.
  kd.upload(kh.data(), kh.size()), vd.upload(vh.data(), vh.size());
  quantize(q, k, v, r, whole.view, opt);
}

TEST(CudaQuantize, NonFiniteInputsAreRejected) {
  INTFA_REQUIRE_GPU();
  const int64_t S = 37, H = 3, D = 64;
  std::vector<float> x(static_cast<size_t>(S * H * D), 0.5f);
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> y = x;
    y[static_cast<size_t>((20 * H + 2) * D + 5)] = bad;  // token 20, head 2
    GuardedBuffer in(y.size() * 4), out8(y.size()), scale(S * H * 4), mean(H * D * 4);
    in.upload(y.data(), y.size() * 4);
    const TensorView v = TensorView::bshd(in.get(), DType::f32, 1, S, H, D);
    auto expect_nonfinite = [&](const char* what, auto&& call) {
      try {
        call();
        ADD_FAILURE() << what << ": no error for " << bad;
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), StatusCode::nonfinite_input) << e.what();
        const std::string msg = e.what();
        EXPECT_NE(msg.find("token 20"), std::string::npos) << msg;
        EXPECT_NE(msg.find("head 2"), std::string::npos) << msg;
      }
    };
    expect_nonfinite("quantize_per_token", [&] {
      quantize_per_token(v, nullptr, TensorView::bshd(out8.get(), DType::i8, 1, S, H, D),
                         scale.as<float>(), kGpu);
    });
    expect_nonfinite("channel_mean", [&] { channel_mean(v, mean.as<float>(), kGpu); });
    expect_nonfinite("quantize_v", [&] {
      GuardedBuffer vt(static_cast<size_t>(H * D * padded_kv_length(S)));
      quantize_v(v, VFormat::int8_per_channel, vt.as<int8_t>(), mean.as<float>(), kGpu);
    });
    // A clean call afterwards does not see the old error.
    quantize_per_token(TensorView::bshd(in.get(), DType::f32, 1, 20, H, D), nullptr,
                       TensorView::bshd(out8.get(), DType::i8, 1, 20, H, D), scale.as<float>(),
                       kGpu);
  }
}

}  // namespace
}  // namespace intfa::test
