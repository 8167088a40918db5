// The V̂ᵀ token order on the GPU (docs/NUMERICS.md): the device reordering
// kernel against the CPU's, and attention_quantized on GPU-quantized inputs in
// either order. The one-call attention() quantizes in attention_vt_order();
// attention_quantized() given that order runs the same kernel on the same
// bytes (identical output); given the other order it either reorders into the
// order of the kernel that runs (identical output again) or, when that order
// has a faster kernel of its own (natural V̂ᵀ on Hopper: the mma.sync kernel
// instead of wgmma), runs that kernel: the same quantized operands through
// another kernel, whose outputs differ only by P codes flipped by the
// exponential's last bit and fp32 sums in another order (see
// test_attention_cuda.cpp): a relative L1 difference far below the INT8
// error itself (~1e-2), bounded here by 2e-3.
#include <cmath>
#include <cstring>
#include <memory>

#include "core/backend_dispatch.hpp"
#include "cpu/cpu_backend.hpp"
#include "cuda/cuda_test_util.hpp"

namespace intfa::test {
namespace {

TEST(CudaVtOrder, ReorderKernelMatchesCpu) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  for (int64_t pad : {int64_t{128}, int64_t{384}}) {
    const int64_t rows = 3 * 64 + 5;
    const size_t n = static_cast<size_t>(rows * pad);
    std::vector<int8_t> src(n);
    for (auto& b : src) b = static_cast<int8_t>(rng() & 0xff);
    GuardedBuffer s(n), d(n);
    s.upload(src.data(), n);
    for (auto [from, to] : {std::pair{VtOrder::natural, VtOrder::interleaved16},
                            std::pair{VtOrder::interleaved16, VtOrder::natural},
                            std::pair{VtOrder::natural, VtOrder::natural}}) {
      SCOPED_TRACE(std::string(vt_order_name(from)) + " -> " + vt_order_name(to));
      std::vector<int8_t> want(n);
      cpu::reorder_vt(src.data(), from, want.data(), to, rows, pad);
      d.poison();
      cuda_backend::reorder_vt(s.as<int8_t>(), from, d.as<int8_t>(), to, rows, pad, nullptr);
      INTFA_CUDA_OK(cudaDeviceSynchronize());
      EXPECT_EQ(d.download<int8_t>(), want);
      EXPECT_EQ(d.guard_damage(), 0u);
    }
  }
}

// Device inputs and quantize() buffers of one problem.
struct DeviceProblem {
  Shape s;
  Recipe recipe;
  std::unique_ptr<GuardedBuffer> q, k, v, q8, k8, qs, ks, km, lo, vt, vs;
  QuantizedBuffers buf;

  DeviceProblem(const Shape& shape, const Recipe& r, std::mt19937_64& rng) : s(shape), recipe(r) {
    const Inputs x = make_inputs(s, rng);
    auto up = [](const std::vector<float>& host) {
      const auto bytes = encode(host, DType::f16);
      auto b = std::make_unique<GuardedBuffer>(bytes.size());
      b->upload(bytes.data(), bytes.size());
      return b;
    };
    q = up(x.q), k = up(x.k), v = up(x.v);
    const QuantizedSizes n = quantized_sizes(s.batch, s.heads, s.kv_heads, s.seqlen_q,
                                             s.seqlen_k, s.head_dim, recipe, DType::f16);
    auto alloc = [](int64_t bytes) { return std::make_unique<GuardedBuffer>(static_cast<size_t>(bytes)); };
    q8 = alloc(n.q8), k8 = alloc(n.k8), qs = alloc(4 * n.q_scale), ks = alloc(4 * n.k_scale);
    km = alloc(4 * n.k_mean), lo = alloc(4 * n.lse_offset), vt = alloc(n.vt);
    vs = alloc(4 * n.v_scale);
    buf.q8 = q8->as<int8_t>(), buf.k8 = k8->as<int8_t>(), buf.q_scale = qs->as<float>();
    buf.k_scale = ks->as<float>(), buf.k_mean = km->as<float>(), buf.lse_offset = lo->as<float>();
    buf.vt = vt->as<int8_t>(), buf.v_scale = vs->as<float>();
  }
  TensorView qv() const { return TensorView::bshd(q->get(), DType::f16, s.batch, s.seqlen_q, s.heads, s.head_dim); }
  TensorView kv() const { return TensorView::bshd(k->get(), DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim); }
  TensorView vv() const { return TensorView::bshd(v->get(), DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim); }
};

struct OrderCase {
  Shape s;
  const char* recipe;
  bool causal;
  int32_t kv_block;  // 0: default
};

TEST(CudaVtOrder, AttentionQuantizedInEitherOrder) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  const OrderCase cases[] = {
      {{1, 4, 2, 100, 300, 128}, "intfa", true, 0},
      {{1, 4, 2, 100, 300, 128}, "intfa", false, 64},  // the mma.sync kernel's other key block
      {{2, 4, 4, 77, 129, 64}, "paper", false, 0},
      {{1, 8, 1, 40, 517, 128}, "paper", true, 0},
      {{1, 2, 2, 33, 200, 256}, "intfa", true, 0},
      {{1, 2, 2, 70, 200, 256}, "intfa", false, 64},  // D = 256's other key block
      {{1, 4, 2, 100, 600, 128}, "intfa", true, 256},  // the Hopper kernel's opt-in key block
  };
  for (const OrderCase& c : cases) {
    if (c.kv_block == 256 && default_vt_order(Backend::cuda) != VtOrder::interleaved16) continue;
    SCOPED_TRACE(c.s.str() + " " + c.recipe + (c.causal ? " causal" : "") +
                 " kv_block=" + std::to_string(c.kv_block));
    DeviceProblem p(c.s, parse_recipe(c.recipe), rng);
    AttentionOptions opt;
    opt.recipe = p.recipe;
    opt.causal = c.causal;
    opt.kv_block = c.kv_block;
    opt.backend = Backend::cuda;
    const size_t n_out = static_cast<size_t>(c.s.batch * c.s.seqlen_q * c.s.heads * c.s.head_dim);
    const size_t n_lse = static_cast<size_t>(c.s.batch * c.s.heads * c.s.seqlen_q);
    GuardedBuffer out(n_out * 4), lse(n_lse * 4);
    const TensorView o = TensorView::bshd(out.get(), DType::f32, c.s.batch, c.s.seqlen_q,
                                          c.s.heads, c.s.head_dim);
    const VtOrder one_call = attention_vt_order(p.qv(), p.kv(), p.vv(), o, lse.as<float>(), opt);
    std::printf("[ intfa ] %s %s: attention() quantizes V̂ᵀ %s\n", c.s.str().c_str(), c.recipe,
                vt_order_name(one_call));
    attention(p.qv(), p.kv(), p.vv(), o, lse.as<float>(), opt);
    const auto ref_out = out.download<float>();
    const auto ref_lse = lse.download<float>();
    for (VtOrder order : {VtOrder::natural, VtOrder::interleaved16}) {
      SCOPED_TRACE(vt_order_name(order));
      const QuantizedInputs in =
          quantize(p.qv(), p.kv(), p.vv(), p.recipe, p.buf, QuantizeOptions{Backend::cuda, nullptr, order});
      ASSERT_EQ(in.vt_order, order);
      out.poison(), lse.poison();
      attention_quantized(in, o, lse.as<float>(), opt);
      INTFA_CUDA_OK(cudaDeviceSynchronize());
      EXPECT_EQ(out.guard_damage() + lse.guard_damage(), 0u);
      const auto got = out.download<float>();
      const auto got_lse = lse.download<float>();
      // Which kernel runs these inputs: the one-call's, unless V̂ᵀ is natural
      // and the one-call's kernel reads interleaved16.
      const bool same_kernel = order == one_call || one_call == VtOrder::natural;
      if (same_kernel) {
        EXPECT_EQ(std::memcmp(got.data(), ref_out.data(), n_out * 4), 0);
        EXPECT_EQ(std::memcmp(got_lse.data(), ref_lse.data(), n_lse * 4), 0);
      } else {
        double diff = 0, norm = 0, lse_diff = 0;
        for (size_t i = 0; i < n_out; ++i) {
          ASSERT_TRUE(std::isfinite(got[i])) << "element " << i;
          diff += std::fabs(static_cast<double>(got[i]) - ref_out[i]);
          norm += std::fabs(static_cast<double>(ref_out[i]));
        }
        for (size_t i = 0; i < n_lse; ++i) {
          if (std::isfinite(ref_lse[i])) {
            lse_diff = std::max(lse_diff, std::fabs(static_cast<double>(got_lse[i]) - ref_lse[i]));
          } else {
            EXPECT_EQ(got_lse[i], ref_lse[i]) << "LSE " << i;
          }
        }
        EXPECT_LE(diff, 2e-3 * norm) << "another kernel, same operands: rel. L1 " << diff / norm;
        EXPECT_LE(lse_diff, 5e-3);
      }
    }
  }
}

}  // namespace
}  // namespace intfa::test
