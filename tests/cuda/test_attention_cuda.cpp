// The CUDA attention kernel against the CPU back-end (same quantized inputs,
// same kv_block) and against float64 attention, on fresh random shapes every
// run (the seed is printed): odd lengths, Sq != Sk, GQA/MQA, causal, every
// head dim and recipe, f32/f16/bf16 outputs in bshd and bhsd layouts (rows
// dense or padded), LSE. Outputs are poisoned (0xFF bytes = NaN) with guard
// regions around them: every element must be written, no guard byte and no
// row padding touched.
//
// Tolerance, GPU vs CPU on identical Q̂, K̂, V̂ (derived, not tuned):
//  * P codes. The GPU forms the exponent as fma(S·k_scale, row_factor, −m)
//    and takes ex2.approx (rel. error ~2^-22); the CPU rounds S·(row_factor·
//    k_scale) and the difference separately and calls exp2f. The argument
//    differs by about one ulp of the score (|s|·2^-24), so round(Q·p) (Q = 255
//    for uint8, 127 for int8) flips by one code when Q·p lies within
//    ~Q·p·1e-6 of a half-integer: probability ~1e-4 per key at most, ~0.02
//    expected flips per row at Sk = 1000. One flipped code of key j moves the
//    row's output by at most c_j·|v_j − O|/(Q·l) <= 2·amax_d/(Q·l), where l
//    (>= 1) is the softmax denominator relative to the row max (computed here
//    from exact scores) and amax_d the largest |v| in column d. We allow
//    kFlips = 6 such flips per row (P(> 6 flips) < 1e-10 per row).
//  * 16-bit P. A flip of a fp16 rounding moves p_j by one fp16 ulp
//    (<= 2^-11·p_j), so all keys together move O by <= 2^-11·max|v_d|. With
//    bf16 V the GPU must round P to bf16 (the tensor cores multiply bf16 by
//    bf16) where the CPU rounds to fp16: <= 2^-8·max|v_d|.
//  * fp32 sums in another order: 2e-5·amax_d; output rounding: one ulp of
//    the output format at |O| (the CPU output compared is fp32). With uint8
//    P the GPU also keeps O and l relative to a lagging reference max (lazy
//    rescaling, common/online_softmax.cuh): other fp32 weights, the same
//    relative rounding, inside this term.
//  * The mma.sync kernel with uint8 P adds each block's integer P̂·V̂ to the
//    output accumulator with the int→float magic bias B = 1.5·2^23 still in it
//    (B + o, |B + o| <= 2^24, times the block weight w) and subtracts B·Σw every
//    F = kSm80BiasFlushBlocks blocks (sm80/attention_kernel.cuh, pv_phase).
//    Between subtractions the accumulator is up to 2^24·W_F larger (W_F: the
//    weights since the last one), so per block its FFMA and its rescale by
//    alpha each add at most 2^-24·2^24·W_F = W_F, and the rounding of Σw
//    (times B) 0.75·W_F: 2.75·W_F. Over the n blocks of a row Σ W_F <= min(F, n)·W (each
//    weight is in at most that many partial sums), and l >= 255·W (every
//    block's largest code is 255), so O = acc·v_scale/l moves by at most
//    2.75·min(F, n)·v_scale_d/255; we allow 3·min(F, n)·v_scale_d/255, and
//    the sum of these in the rel. L1 comparison with the CPU's error.
// LSE: kFlips/(Q·l) for uint8 P (l is summed from the quantized codes), plus
// 1e-5·(1 + |lse|) for the float operations.
//
// Kernels: every case runs on every attention kernel the device has, on the
// same quantized inputs against the same CPU output: the mma.sync kernel
// ("sm80", V̂ᵀ in natural token order) always, and on a device whose default
// V̂ᵀ order is interleaved16 (sm_90 with the Hopper kernels built) also the
// wgmma kernel ("sm90", V̂ᵀ quantized by the CPU in interleaved16 order) for
// every case it supports: int8 V with int8 or uint8 P (paper, intfa and their
// knobs), head dim 64/128/256, the default key block. The Hopper kernel does
// the same float operations (fma + ex2.approx exponent, fp32 sums in another
// order), so the tolerances above hold for both. attention_quantized() would
// silently reorder interleaved16 V̂ᵀ to natural (the mma.sync kernel) for
// params the Hopper kernel cannot run, so sm90 runs assert that the back-end
// picks the Hopper kernel for exactly these params.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <random>

#include "core/api_internal.hpp"
#include "core/backend_dispatch.hpp"
#include "cuda/cuda_test_util.hpp"
#include "sm80/kernel_traits.hpp"  // kSm80BiasFlushBlocks

namespace intfa::test {
namespace {

constexpr double kFlips = 6;

struct Case {
  Shape s;
  std::string recipe;
  DType v_dtype = DType::i8;  // f16 / bf16 for half-int8
  bool causal = false;
  DType out_dtype = DType::f32;
  bool bhsd_out = false;
  bool lse = true;
  int32_t kv_block = 0;  // 0: the CUDA default
  Dist dist = Dist::normal;
  // Elements of padding after each output row (of the bshd or bhsd layout):
  // 2 makes 16-bit rows 4- but not 8-byte aligned, 4 makes them 8- but not
  // 16-byte aligned, which the kernels' wide (16- and 8-byte) output stores
  // must detect and fall back from.
  int64_t out_row_pad = 0;
  std::string str() const {
    return s.str() + " " + recipe + (v_dtype == DType::bf16 ? "(bf16 V)" : "") +
           (causal ? " causal" : "") + " out=" + dtype_name(out_dtype) +
           (bhsd_out ? " bhsd" : " bshd") + (out_row_pad ? " pad=" + std::to_string(out_row_pad) : "") +
           (lse ? " lse" : "") + " kv_block=" + std::to_string(kv_block);
  }
};

// The output view of a case over `data` (row padding included).
TensorView output_view(const Case& c, void* data) {
  const Shape& s = c.s;
  TensorView v = c.bhsd_out ? TensorView::bhsd(data, c.out_dtype, s.batch, s.seqlen_q, s.heads, s.head_dim)
                            : TensorView::bshd(data, c.out_dtype, s.batch, s.seqlen_q, s.heads, s.head_dim);
  if (c.out_row_pad != 0) {
    if (c.bhsd_out) {  // [B, H, S, D + pad]
      v.stride_seq = s.head_dim + c.out_row_pad;
      v.stride_head = s.seqlen_q * v.stride_seq;
      v.stride_batch = s.heads * v.stride_head;
    } else {  // [B, S, H·D + pad]
      v.stride_seq = s.heads * s.head_dim + c.out_row_pad;
      v.stride_batch = s.seqlen_q * v.stride_seq;
    }
  }
  return v;
}

// The CUDA attention kernels: mma.sync (sm80, natural V̂ᵀ) and wgmma (sm90,
// interleaved16 V̂ᵀ).
enum class Kernel { sm80, sm90 };
const char* kernel_name(Kernel k) { return k == Kernel::sm90 ? "sm90" : "sm80"; }
VtOrder kernel_vt_order(Kernel k) {
  return k == Kernel::sm90 ? VtOrder::interleaved16 : VtOrder::natural;
}

int32_t case_kv_block(const Case& c, const Recipe& r) {
  return c.kv_block != 0 ? c.kv_block : default_kv_block(Backend::cuda, r, c.s.head_dim);
}

// The kernels a case runs on: sm80 unless its key block is one the mma.sync
// kernel lacks (intfa at D = 256 has 64 there, 128 on the Hopper kernel; 256
// keys only the Hopper kernel has); sm90 too when the device's default V̂ᵀ
// order is interleaved16 (Hopper) and the Hopper kernel has an instantiation
// for the case: a full-int8 recipe at head dim 64/128/256 with the default
// key block, or 8-bit P from the block max at D = 64/128 with 256 keys.
std::vector<Kernel> kernels_for(const Case& c) {
  std::vector<Kernel> out;
  const Recipe r = parse_recipe(c.recipe);
  const int64_t d = c.s.head_dim;
  const int32_t kv_block = case_kv_block(c, r);
  if (!(d == 256 && kv_block == 128) && kv_block != 256) out.push_back(Kernel::sm80);
  const bool full_int8 = r.int8_qk() && r.int8_v() &&
                         (r.p == PFormat::int8_running_max || r.p == PFormat::uint8_block_max);
  const bool hopper_block = kv_block == default_kv_block(Backend::cuda, r, d) ||
                            (kv_block == 256 && r.p == PFormat::uint8_block_max && d <= 128);
  if (default_vt_order(Backend::cuda) == VtOrder::interleaved16 && full_int8 &&
      (d == 64 || d == 128 || d == 256) && hopper_block)
    out.push_back(Kernel::sm90);
  return out;
}

// Whether attention_quantized(in, out, lse, o) on CUDA runs in's
// interleaved16 V̂ᵀ on the Hopper kernel, rather than reordering it to natural
// for the mma.sync kernel (what it does for params the Hopper kernel cannot run).
bool runs_on_sm90(const QuantizedInputs& in, const TensorView& out, float* lse,
                  const AttentionOptions& o, const Shape& s) {
  if (in.vt_order != VtOrder::interleaved16) return false;
  std::vector<float> unit_scales;
  const AttentionParams prm = detail::build_params(
      in, out, lse, o, Backend::cuda,
      detail::Shape{s.batch, s.heads, s.kv_heads, s.seqlen_q, s.seqlen_k, s.head_dim}, unit_scales);
  return cuda_backend::vt_order_for(prm) == VtOrder::interleaved16;
}

struct Totals {
  size_t elements = 0, beyond_float = 0, cases = 0;
  size_t runs[2] = {0, 0};  // kernel runs, by Kernel
};

// Host quantized inputs from the CPU back-end and their device copies.
struct Prepared {
  Recipe recipe;
  std::vector<int8_t> q8, k8, vt;
  std::vector<int8_t> vt16;  // V̂ᵀ in interleaved16 order (when a case runs on sm90)
  std::vector<float> q_scale, k_scale, v_scale, lse_offset, k_mean;
  std::vector<uint8_t> v16;  // half-int8: V as f16/bf16 [B, Sk, Hk, D]
  const std::vector<int8_t>& vt_for(Kernel k) const { return k == Kernel::sm90 ? vt16 : vt; }
};

// `interleaved`: also quantize V into vt16 in interleaved16 order (the CPU
// quantizer writes either order; same bytes, other positions).
Prepared prepare(const Case& c, const Inputs& x, bool interleaved = false) {
  const Shape& s = c.s;
  Prepared p;
  p.recipe = parse_recipe(c.recipe);
  const QuantizeOptions cpu{Backend::cpu, nullptr, VtOrder::natural};
  p.q8.resize(x.q.size()), p.k8.resize(x.k.size());
  p.q_scale.resize(static_cast<size_t>(s.batch * s.heads * s.seqlen_q));
  p.k_scale.resize(static_cast<size_t>(s.batch * s.kv_heads * s.seqlen_k));
  if (p.recipe.smooth_k) {
    p.k_mean.resize(static_cast<size_t>(s.batch * s.kv_heads * s.head_dim));
    p.lse_offset.resize(p.q_scale.size());
    channel_mean(x.kv(), p.k_mean.data(), cpu);
  }
  const float* mean = p.recipe.smooth_k ? p.k_mean.data() : nullptr;
  quantize_per_token(x.kv(), mean,
                     TensorView::bshd(p.k8.data(), DType::i8, s.batch, s.seqlen_k, s.kv_heads,
                                      s.head_dim),
                     p.k_scale.data(), cpu);
  quantize_q(x.qv(),
             TensorView::bshd(p.q8.data(), DType::i8, s.batch, s.seqlen_q, s.heads, s.head_dim),
             p.q_scale.data(), mean, s.kv_heads, p.recipe.smooth_k ? p.lse_offset.data() : nullptr,
             cpu);
  if (p.recipe.int8_v()) {
    const int64_t pad = padded_kv_length(s.seqlen_k);
    const int64_t rows = s.batch * s.kv_heads * s.head_dim;
    p.vt.resize(static_cast<size_t>(rows * pad));
    p.v_scale.resize(static_cast<size_t>(rows));
    EXPECT_EQ(quantize_v(x.vv(), p.recipe.v, p.vt.data(), p.v_scale.data(), cpu), VtOrder::natural);
    if (interleaved) {
      p.vt16.resize(p.vt.size());
      std::vector<float> scale16(p.v_scale.size());
      EXPECT_EQ(quantize_v(x.vv(), p.recipe.v, p.vt16.data(), scale16.data(),
                           QuantizeOptions{Backend::cpu, nullptr, VtOrder::interleaved16}),
                VtOrder::interleaved16);
      EXPECT_EQ(scale16, p.v_scale);
      // The same bytes at vt_position(t, interleaved16).
      size_t moved_wrong = 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < pad; ++t)
          moved_wrong += p.vt16[static_cast<size_t>(r * pad + vt_position(t, VtOrder::interleaved16))] !=
                         p.vt[static_cast<size_t>(r * pad + t)];
      EXPECT_EQ(moved_wrong, 0u) << "interleaved16 V̂ᵀ is not the natural V̂ᵀ reordered";
    }
  } else {
    p.v16 = encode(x.v, c.v_dtype);
  }
  return p;
}

// Exact softmax denominators relative to the row max (l >= 1), per row [B, H, Sq].
std::vector<double> exact_denominators(const Case& c, const Inputs& x) {
  const Shape& s = c.s;
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  std::vector<double> l(static_cast<size_t>(s.batch * s.heads * s.seqlen_q), 0.0);
  const TensorView qv = x.qv(), kv = x.kv();
  std::vector<double> z(static_cast<size_t>(s.seqlen_k));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t h = 0; h < s.heads; ++h)
      for (int64_t i = 0; i < s.seqlen_q; ++i) {
        const int64_t hk = h / (s.heads / s.kv_heads);
        const int64_t vis =
            c.causal ? std::clamp<int64_t>(i + s.seqlen_k - s.seqlen_q + 1, 0, s.seqlen_k)
                     : s.seqlen_k;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < vis; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < s.head_dim; ++d)
            dot += static_cast<double>(x.q[static_cast<size_t>(qv.offset(b, i, h) + d)]) *
                   x.k[static_cast<size_t>(kv.offset(b, j, hk) + d)];
          z[static_cast<size_t>(j)] = dot * scale;
          m = std::max(m, dot * scale);
        }
        double sum = 0;
        for (int64_t j = 0; j < vis; ++j) sum += std::exp(z[static_cast<size_t>(j)] - m);
        l[static_cast<size_t>((b * s.heads + h) * s.seqlen_q + i)] = sum;
      }
  return l;
}

// Running max of |v| over the keys, [B, Sk, Hk, D] like V: entry (b, j, hk, d)
// is max_{j' <= j} |v[b, j', hk, d]|, so the largest |v| of column d among a
// row's `vis` visible keys is entry (b, vis - 1, hk, d).
std::vector<double> prefix_abs_max(const Shape& s, const std::vector<float>& v) {
  std::vector<double> m(v.size());
  const size_t step = static_cast<size_t>(s.kv_heads * s.head_dim);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t j = 0; j < s.seqlen_k; ++j) {
      const size_t at = static_cast<size_t>((b * s.seqlen_k + j) * s.kv_heads * s.head_dim);
      for (size_t e = 0; e < step; ++e)
        m[at + e] = std::max(j > 0 ? m[at + e - step] : 0.0, std::fabs(static_cast<double>(v[at + e])));
    }
  return m;
}

void run_case(const Case& c, std::mt19937_64& rng, Totals& totals) {
  SCOPED_TRACE(c.str());
  const Shape& s = c.s;
  const Inputs x = make_inputs(s, rng, c.dist);
  const std::vector<Kernel> kernels = kernels_for(c);
  if (kernels.empty() && c.kv_block == 256 && default_vt_order(Backend::cuda) != VtOrder::interleaved16) {
    std::printf("[ intfa ] %s: 256-key blocks run on the Hopper kernel only; skipped here\n",
                c.str().c_str());
    return;
  }
  ASSERT_FALSE(kernels.empty()) << "no CUDA kernel runs this case's key block";
  const bool on_sm90 = kernels.back() == Kernel::sm90;
  const Prepared p = prepare(c, x, on_sm90);
  const bool int8_v = p.recipe.int8_v();
  AttentionOptions opt;
  opt.recipe = p.recipe;
  opt.causal = c.causal;
  opt.kv_block = case_kv_block(c, p.recipe);

  // CPU (fp32 output, bshd; V̂ᵀ in natural order).
  const size_t n_out = x.q.size(), n_lse = p.q_scale.size();
  std::vector<float> out_c(n_out), lse_c(n_lse);
  {
    QuantizedInputs in;
    in.recipe = p.recipe;
    in.q = TensorView::bshd(p.q8.data(), DType::i8, s.batch, s.seqlen_q, s.heads, s.head_dim);
    in.k = TensorView::bshd(p.k8.data(), DType::i8, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
    in.q_scale = p.q_scale.data(), in.k_scale = p.k_scale.data();
    in.lse_offset = p.lse_offset.empty() ? nullptr : p.lse_offset.data();
    if (int8_v) {
      in.vt = p.vt.data(), in.v_scale = p.v_scale.data(), in.vt_order = VtOrder::natural;
    } else {
      in.v = TensorView::bshd(p.v16.data(), c.v_dtype, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
    }
    AttentionOptions o = opt;
    o.backend = Backend::cpu;
    attention_quantized(in, TensorView::bshd(out_c.data(), DType::f32, s.batch, s.seqlen_q,
                                             s.heads, s.head_dim),
                        lse_c.data(), o);
  }

  // Reference and per-row / per-column magnitudes for the tolerances.
  std::vector<double> ref(n_out), ref_lse(n_lse);
  attention_reference(x.qv(), x.kv(), x.vv(), ref.data(), ref_lse.data(), c.causal);
  const std::vector<double> l_exact = exact_denominators(c, x);
  const std::vector<double> v_amax = prefix_abs_max(s, x.v);
  const double q_levels = p.recipe.p == PFormat::uint8_block_max ? 255.0 : 127.0;
  const double p16 = c.v_dtype == DType::bf16 ? std::ldexp(1.0, -8) : std::ldexp(1.0, -11);

  // Device copies of the quantized inputs shared by the kernels.
  auto dev = [](const auto& v) {
    auto b = std::make_unique<GuardedBuffer>(v.size() * sizeof(v[0]) + 16);
    if (!v.empty()) b->upload(v.data(), v.size() * sizeof(v[0]));
    return b;
  };
  auto q8 = dev(p.q8), k8 = dev(p.k8), qs = dev(p.q_scale), ks = dev(p.k_scale);
  auto off = dev(p.lse_offset), vs = dev(p.v_scale), v16 = dev(p.v16);
  const TensorView out_view = output_view(c, nullptr);
  const size_t out_bytes = static_cast<size_t>(s.batch * out_view.stride_batch) * dtype_size(c.out_dtype);

  for (const Kernel kernel : kernels) {
    SCOPED_TRACE(std::string("kernel ") + kernel_name(kernel));
    auto vt = dev(p.vt_for(kernel));
    GuardedBuffer out_g(out_bytes), lse_g(n_lse * 4);  // poisoned: 0xFF bytes
    {
      QuantizedInputs in;
      in.recipe = p.recipe;
      in.q = TensorView::bshd(q8->get(), DType::i8, s.batch, s.seqlen_q, s.heads, s.head_dim);
      in.k = TensorView::bshd(k8->get(), DType::i8, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
      in.q_scale = qs->as<float>(), in.k_scale = ks->as<float>();
      in.lse_offset = p.lse_offset.empty() ? nullptr : off->as<float>();
      if (int8_v) {
        in.vt = vt->as<int8_t>(), in.v_scale = vs->as<float>(), in.vt_order = kernel_vt_order(kernel);
      } else {
        in.v = TensorView::bshd(v16->get(), c.v_dtype, s.batch, s.seqlen_k, s.kv_heads, s.head_dim);
      }
      AttentionOptions o = opt;
      o.backend = Backend::cuda;
      const TensorView out = output_view(c, out_g.get());
      float* lse_ptr = c.lse ? lse_g.as<float>() : nullptr;
      if (kernel == Kernel::sm90) {
        ASSERT_TRUE(runs_on_sm90(in, out, lse_ptr, o, s))
            << "the Hopper kernel does not run this case (does INTFA_CUDA_SM90_CONFIGS lack "
               "its instantiation?)";
      }
      attention_quantized(in, out, lse_ptr, o);
      INTFA_CUDA_OK(cudaDeviceSynchronize());
    }
    EXPECT_EQ(out_g.guard_damage(), 0u) << "output written out of bounds";
    EXPECT_EQ(lse_g.guard_damage(), 0u) << "LSE written out of bounds";
    const std::vector<uint8_t> out_raw = out_g.download<uint8_t>();
    const std::vector<float> lse_gpu = lse_g.download<float>();

    double err_gpu = 0, err_cpu = 0, ref_l1 = 0, bias_l1 = 0;
    size_t unwritten = 0, beyond_float = 0, failures = 0;
    const bool carries_bias = kernel == Kernel::sm80 && int8_v && p.recipe.p == PFormat::uint8_block_max;
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t hk = h / (s.heads / s.kv_heads);
        for (int64_t i = 0; i < s.seqlen_q; ++i) {
          const size_t row = static_cast<size_t>((b * s.heads + h) * s.seqlen_q + i);
          const int64_t vis =
              c.causal ? std::clamp<int64_t>(i + s.seqlen_k - s.seqlen_q + 1, 0, s.seqlen_k)
                       : s.seqlen_k;
          for (int64_t d = 0; d < s.head_dim; ++d) {
            const size_t oi = static_cast<size_t>(((b * s.seqlen_q + i) * s.heads + h) * s.head_dim + d);
            const float g = decode(out_raw.data(), c.out_dtype, static_cast<size_t>(out_view.offset(b, i, h) + d));
            if (!std::isfinite(g)) {
              ++unwritten;
              continue;
            }
            const double cpu = out_c[oi];
            if (vis == 0) {
              EXPECT_EQ(g, 0.f) << "fully masked row " << i;
              continue;
            }
            const double amax =
                v_amax[static_cast<size_t>(((b * s.seqlen_k + vis - 1) * s.kv_heads + hk) * s.head_dim + d)];
            // The carried bias (see the tolerance comment): at most
            // min(F, blocks) partial sums per weight; key blocks >= 32.
            const double bias_tol =
                carries_bias ? 3.0 * std::min<int64_t>(cuda::kSm80BiasFlushBlocks, (vis + 31) / 32) *
                                   p.v_scale[static_cast<size_t>((b * s.kv_heads + hk) * s.head_dim + d)] / 255.0
                             : 0.0;
            bias_l1 += bias_tol;
            const double float_tol = 2e-5 * amax + out_ulp(cpu, c.out_dtype) + bias_tol;
            const double p_tol = int8_v ? kFlips * 2.0 * amax / (q_levels * l_exact[row]) : p16 * amax;
            const double diff = std::fabs(g - cpu);
            beyond_float += diff > float_tol;
            if (diff > float_tol + p_tol && failures++ < 5)
              ADD_FAILURE() << "O[b=" << b << ", i=" << i << ", h=" << h << ", d=" << d
                            << "]: gpu " << g << " cpu " << cpu << " |diff| " << diff
                            << " > tolerance " << float_tol + p_tol << " (l=" << l_exact[row] << ")";
            const double cpu_rounded = c.out_dtype == DType::f16    ? numeric::round_to_fp16(out_c[oi])
                                       : c.out_dtype == DType::bf16 ? numeric::round_to_bf16(out_c[oi])
                                                                    : out_c[oi];
            err_gpu += std::fabs(g - ref[oi]);
            err_cpu += std::fabs(cpu_rounded - ref[oi]);
            ref_l1 += std::fabs(ref[oi]);
          }
          if (c.lse) {
            const float lg = lse_gpu[row];
            if (vis == 0) {
              EXPECT_TRUE(std::isinf(lg) && lg < 0) << "LSE of a fully masked row: " << lg;
            } else {
              const double tol = (p.recipe.p == PFormat::uint8_block_max ? kFlips / (255.0 * l_exact[row]) : 0.0) +
                                 1e-5 * (1 + std::fabs(lse_c[row]));
              EXPECT_NEAR(lg, lse_c[row], tol) << "LSE row " << row;
            }
          }
        }
      }
    EXPECT_EQ(unwritten, 0u) << "output elements left unwritten (still NaN)";
    // The row padding keeps its poison.
    size_t pad_written = 0;
    if (c.out_row_pad != 0) {
      const int64_t row_len = c.bhsd_out ? s.head_dim : s.heads * s.head_dim;
      for (int64_t b = 0; b < s.batch; ++b)
        for (int64_t i = 0; i < s.seqlen_q; ++i)
          for (int64_t h = 0; h < (c.bhsd_out ? s.heads : 1); ++h)
            for (int64_t e = 0; e < c.out_row_pad; ++e)
              pad_written += std::isfinite(decode(out_raw.data(), c.out_dtype,
                                                  static_cast<size_t>(out_view.offset(b, i, h) + row_len + e)));
    }
    EXPECT_EQ(pad_written, 0u) << "output row padding written";
    // Same quantized inputs: the GPU's error against float64 is the CPU's
    // (up to the carried bias's bound, summed like the errors).
    if (ref_l1 > 0) {
      const double eg = err_gpu / ref_l1, ec = err_cpu / ref_l1;
      EXPECT_LE(std::fabs(eg - ec), 0.05 * ec + 1e-6 + bias_l1 / ref_l1)
          << "rel. L1 error gpu " << eg << " cpu " << ec;
    }
    std::printf("[ intfa ] kernel %s  %s: %zu of %zu elements beyond fp32/output rounding\n",
                kernel_name(kernel), c.str().c_str(), beyond_float, n_out);
    totals.elements += n_out;
    totals.beyond_float += beyond_float;
    ++totals.runs[static_cast<int>(kernel)];
  }
  ++totals.cases;
}

void print_totals(const Totals& t) {
  std::printf("[ intfa ] %zu cases, %zu kernel runs (sm80 %zu, sm90 %zu), %zu output elements; "
              "%zu differ from the CPU by more than fp32/output rounding (P code flips, see the "
              "tolerance comment)\n",
              t.cases, t.runs[0] + t.runs[1], t.runs[0], t.runs[1], t.elements, t.beyond_float);
}

// On a Hopper device (default V̂ᵀ order interleaved16) the cases of a test
// that has Hopper-eligible ones must have run on the Hopper kernel too.
void expect_sm90_ran(const Totals& t) {
  if (default_vt_order(Backend::cuda) == VtOrder::interleaved16 && !::testing::Test::HasFailure()) {
    EXPECT_GT(t.runs[static_cast<int>(Kernel::sm90)], 0u) << "no case ran on the Hopper kernel";
  }
}

Case random_case(std::mt19937_64& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  Case c;
  const int64_t dims[] = {64, 128, 256};
  const int64_t kv_heads = pick(1, 3), ratio = pick(1, 3);
  const int64_t max_seq = pick(0, 4) == 0 ? 1100 : 300;
  c.s = Shape{pick(1, 2), kv_heads * ratio, kv_heads, pick(1, max_seq), pick(1, max_seq), dims[pick(0, 2)]};
  while (c.s.batch * c.s.heads * c.s.seqlen_q * c.s.seqlen_k * c.s.head_dim > 150'000'000) {
    c.s.seqlen_q = std::max<int64_t>(1, c.s.seqlen_q / 2);
    c.s.seqlen_k = std::max<int64_t>(1, c.s.seqlen_k / 2);
  }
  const char* recipes[] = {"intfa", "paper", "half-int8", "half-int8", "paper+p-u8", "intfa-smooth-k",
                           "intfa-v-channel"};
  c.recipe = recipes[pick(0, 6)];
  if (c.recipe == "half-int8") c.v_dtype = pick(0, 1) ? DType::f16 : DType::bf16;
  c.causal = pick(0, 1);
  const DType outs[] = {DType::f32, DType::f16, DType::bf16};
  c.out_dtype = outs[pick(0, 2)];
  c.bhsd_out = pick(0, 1);
  if (pick(0, 3) == 0) c.out_row_pad = pick(0, 1) ? 4 : 2;
  c.lse = pick(0, 3) != 0;
  // intfa has three key blocks: 128 (the default at D = 64 and 128, and at
  // D = 256 on the Hopper kernel), 64 (the mma.sync kernel's at D = 256) and
  // 256 (the Hopper kernel's opt-in at D = 64 and 128).
  if (c.recipe.rfind("intfa", 0) == 0) {
    const int64_t choice = pick(0, 2);
    if (choice == 1) c.kv_block = 64;
    if (choice == 2 && c.s.head_dim <= 128) c.kv_block = 256;
  }
  if (pick(0, 5) == 0) c.dist = Dist::outlier;
  return c;
}

TEST(CudaAttention, RandomShapesMatchCpuAndReference) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  Totals t;
  for (int i = 0; i < 48 && !HasFailure(); ++i) run_case(random_case(rng), rng, t);
  print_totals(t);
  expect_sm90_ran(t);
}

TEST(CudaAttention, EdgeShapes) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  Totals t;
  const std::vector<Case> cases = {
      {{1, 1, 1, 1, 1, 64}, "intfa"},
      {{1, 2, 1, 1, 1, 128}, "paper", DType::i8, true},
      {{1, 1, 1, 200, 70, 128}, "intfa", DType::i8, true},   // Sq > Sk: fully masked rows
      {{1, 1, 1, 300, 5, 64}, "half-int8", DType::f16, true, DType::f16},
      {{2, 4, 1, 129, 257, 128}, "intfa", DType::i8, true, DType::bf16, true},  // MQA
      {{1, 6, 2, 127, 129, 256}, "paper", DType::i8, false, DType::f16},        // GQA
      {{1, 4, 2, 70, 300, 256}, "intfa", DType::i8, true, DType::bf16},         // ragged 128-key block
      // D = 256 intfa's two consumers take turns: one of them without rows
      // (Sq ≤ 64), and tiles where the first sees no key (Sq > Sk, causal).
      {{1, 2, 1, 40, 300, 256}, "intfa", DType::i8, false, DType::f16},
      {{1, 2, 1, 200, 70, 256}, "intfa", DType::i8, true, DType::f16},
      // 256-key blocks (Hopper only): V̂ᵀ's second token panel past the
      // padded length (Sk = 300), a consumer without rows, Sq > Sk causal.
      {{1, 2, 1, 40, 300, 128}, "intfa", DType::i8, false, DType::f16, false, true, 256},
      {{1, 2, 1, 200, 70, 128}, "intfa", DType::i8, true, DType::f16, false, true, 256},
      {{1, 3, 1, 130, 513, 64}, "intfa", DType::i8, true, DType::bf16, true, true, 256},
      {{2, 2, 2, 257, 1000, 128}, "intfa-smooth-k", DType::i8, false, DType::f32, false, true, 256},
      {{1, 2, 2, 64, 64, 64}, "intfa", DType::i8, true},
      {{1, 2, 2, 128, 128, 128}, "intfa", DType::i8, true, DType::f32, false, true, 64},
      {{1, 3, 3, 1, 1000, 128}, "intfa", DType::i8, false},                     // decode-like
      {{1, 3, 1, 513, 1, 64}, "half-int8", DType::bf16, false},
      // 16-bit rows 4- but not 8-byte aligned (pad 2): the 4-byte output
      // stores; 8- but not 16-byte aligned (pad 4): the 8-byte ones.
      {{1, 2, 1, 130, 257, 128}, "intfa", DType::i8, false, DType::f16, false, true, 0, Dist::normal, 2},
      {{1, 2, 2, 70, 90, 64}, "intfa", DType::i8, true, DType::bf16, true, false, 0, Dist::normal, 2},
      {{1, 2, 1, 131, 200, 128}, "intfa", DType::i8, true, DType::bf16, false, true, 0, Dist::normal, 4},
      {{1, 2, 2, 66, 129, 256}, "paper", DType::i8, false, DType::f16, true, true, 0, Dist::normal, 4},
  };
  for (const Case& c : cases) run_case(c, rng, t);
  print_totals(t);
  expect_sm90_ran(t);
}

// More CTAs than the 65535 of a grid's y or z dimension: 1-D grid.
TEST(CudaAttention, LargeBatchTimesHeads) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  Totals t;
  Case c{{600, 120, 120, 2, 5, 64}, "intfa"};
  c.lse = true;
  run_case(c, rng, t);
  expect_sm90_ran(t);
}

TEST(CudaAttention, Deterministic) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  const Shape s{1, 4, 2, 333, 517, 128};
  const Inputs x = make_inputs(s, rng);
  std::vector<uint8_t> qh = encode(x.q, DType::f16), kh = encode(x.k, DType::f16), vh = encode(x.v, DType::f16);
  GuardedBuffer q(qh.size()), k(kh.size()), v(vh.size()), o1(x.q.size() * 2), o2(x.q.size() * 2);
  q.upload(qh.data(), qh.size()), k.upload(kh.data(), kh.size()), v.upload(vh.data(), vh.size());
  AttentionOptions opt;
  opt.causal = true;
  for (GuardedBuffer* o : {&o1, &o2})
    attention(TensorView::bshd(q.get(), DType::f16, 1, 333, 4, 128),
              TensorView::bshd(k.get(), DType::f16, 1, 517, 2, 128),
              TensorView::bshd(v.get(), DType::f16, 1, 517, 2, 128),
              TensorView::bshd(o->get(), DType::f16, 1, 333, 4, 128), nullptr, opt);
  EXPECT_EQ(o1.download<uint16_t>(), o2.download<uint16_t>());
}

// The one-call API from fp16 device inputs against the CPU's one call on the
// same fp16 values (quantization included).
TEST(CudaAttention, OneCallMatchesCpu) {
  INTFA_REQUIRE_GPU();
  print_seed_once();
  auto rng = rng_for_test();
  for (const char* recipe : {"intfa", "paper", "half-int8"}) {
    for (bool causal : {false, true}) {
      const Shape s{2, 4, 2, 201, 333, 128};
      SCOPED_TRACE(std::string(recipe) + (causal ? " causal" : ""));
      const Inputs x = make_inputs(s, rng, Dist::outlier);
      const auto qh = encode(x.q, DType::f16), kh = encode(x.k, DType::f16), vh = encode(x.v, DType::f16);
      GuardedBuffer q(qh.size()), k(kh.size()), v(vh.size()), o(x.q.size() * 2), l(static_cast<size_t>(s.batch * s.heads * s.seqlen_q) * 4);
      q.upload(qh.data(), qh.size()), k.upload(kh.data(), kh.size()), v.upload(vh.data(), vh.size());
      AttentionOptions opt;
      opt.recipe = parse_recipe(recipe);
      opt.causal = causal;
      auto views = [&](const void* qp, const void* kp, const void* vp) {
        return std::array<TensorView, 3>{
            TensorView::bshd(qp, DType::f16, s.batch, s.seqlen_q, s.heads, s.head_dim),
            TensorView::bshd(kp, DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim),
            TensorView::bshd(vp, DType::f16, s.batch, s.seqlen_k, s.kv_heads, s.head_dim)};
      };
      const auto g = views(q.get(), k.get(), v.get());
      attention(g[0], g[1], g[2], TensorView::bshd(o.get(), DType::f16, s.batch, s.seqlen_q, s.heads, s.head_dim),
                l.as<float>(), opt);
      INTFA_CUDA_OK(cudaDeviceSynchronize());
      // Without an LSE the one call skips Q's lse_offset: the same output.
      const auto og_lse = o.download<uint16_t>();
      o.poison();
      attention(g[0], g[1], g[2], TensorView::bshd(o.get(), DType::f16, s.batch, s.seqlen_q, s.heads, s.head_dim),
                nullptr, opt);
      INTFA_CUDA_OK(cudaDeviceSynchronize());
      EXPECT_EQ(o.download<uint16_t>(), og_lse) << "output with and without an LSE";
      const auto hv = views(qh.data(), kh.data(), vh.data());
      std::vector<float> oc(x.q.size()), lc(static_cast<size_t>(s.batch * s.heads * s.seqlen_q));
      AttentionOptions oc_opt = opt;
      oc_opt.backend = Backend::cpu;
      oc_opt.kv_block = default_kv_block(Backend::cuda, opt.recipe, s.head_dim);
      attention(hv[0], hv[1], hv[2], TensorView::bshd(oc.data(), DType::f32, s.batch, s.seqlen_q, s.heads, s.head_dim),
                lc.data(), oc_opt);
      const auto og = o.download<uint16_t>();
      const auto lg = l.download<float>();
      double err = 0, norm = 0;
      for (size_t i = 0; i < oc.size(); ++i) {
        const float gv = numeric::half_bits_to_float(og[i]);
        ASSERT_TRUE(std::isfinite(gv)) << "element " << i << " unwritten";
        err += std::fabs(gv - oc[i]);
        norm += std::fabs(oc[i]);
      }
      // fp16 output rounding (2^-11 relative) plus rare P code flips.
      EXPECT_LE(err / norm, 1e-3) << "rel. L1 difference to the CPU";
      for (size_t i = 0; i < lc.size(); ++i) ASSERT_NEAR(lg[i], lc[i], 1e-3 * (1 + std::fabs(lc[i])));
    }
  }
}

TEST(CudaAttention, NonFiniteInputsAreRejected) {
  INTFA_REQUIRE_GPU();
  const Shape s{1, 2, 2, 40, 50, 64};
  std::vector<float> base(static_cast<size_t>(s.batch * 50 * 2 * 64), 0.25f);
  for (const char* which : {"Q", "K", "V"}) {
    std::vector<float> q(static_cast<size_t>(40 * 2 * 64), 0.5f), k = base, v = base;
    std::vector<float>& target = which[0] == 'Q' ? q : which[0] == 'K' ? k : v;
    target[static_cast<size_t>((17 * 2 + 1) * 64 + 3)] = std::numeric_limits<float>::quiet_NaN();
    GuardedBuffer qd(q.size() * 4), kd(k.size() * 4), vd(v.size() * 4), od(q.size() * 4);
    qd.upload(q.data(), q.size() * 4), kd.upload(k.data(), k.size() * 4), vd.upload(v.data(), v.size() * 4);
    AttentionOptions opt;  // intfa: smooth-k, int8 V
    try {
      attention(TensorView::bshd(qd.get(), DType::f32, 1, 40, 2, 64),
                TensorView::bshd(kd.get(), DType::f32, 1, 50, 2, 64),
                TensorView::bshd(vd.get(), DType::f32, 1, 50, 2, 64),
                TensorView::bshd(od.get(), DType::f32, 1, 40, 2, 64), nullptr, opt);
      ADD_FAILURE() << which << ": no error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), StatusCode::nonfinite_input) << e.what();
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(which, 0), 0u) << msg;
      EXPECT_NE(msg.find("token 17, head 1"), std::string::npos) << msg;
    }
  }
}

TEST(CudaAttention, BadInputsGiveClearErrors) {
  INTFA_REQUIRE_GPU();
  const Shape s{1, 2, 2, 64, 64, 128};
  auto rng = rng_for_test();
  const Inputs x = make_inputs(s, rng);
  Case c{s, "intfa"};
  const std::vector<Kernel> kernels = kernels_for(c);
  const Prepared p = prepare(c, x, kernels.back() == Kernel::sm90);
  GuardedBuffer q8(p.q8.size() + 64), k8(p.k8.size()), qs(p.q_scale.size() * 4), ks(p.k_scale.size() * 4),
      off(p.lse_offset.size() * 4), vt(p.vt.size()), vs(p.v_scale.size() * 4), out(x.q.size() * 4);
  q8.upload(p.q8.data(), p.q8.size()), k8.upload(p.k8.data(), p.k8.size());
  qs.upload(p.q_scale.data(), p.q_scale.size() * 4), ks.upload(p.k_scale.data(), p.k_scale.size() * 4);
  off.upload(p.lse_offset.data(), p.lse_offset.size() * 4);
  vs.upload(p.v_scale.data(), p.v_scale.size() * 4);
  // The same errors whichever order V̂ᵀ is in (interleaved16 V̂ᵀ the Hopper
  // kernel cannot run is reordered to natural for the mma.sync kernel, whose
  // checks then fail alike).
  for (const Kernel kernel : kernels) {
    SCOPED_TRACE(std::string("kernel ") + kernel_name(kernel));
    vt.upload(p.vt_for(kernel).data(), p.vt.size());
    auto inputs = [&](const void* qptr, int64_t dim) {
      QuantizedInputs in;
      in.recipe = p.recipe;
      in.q = TensorView::bshd(qptr, DType::i8, 1, 64, 2, dim);
      in.k = TensorView::bshd(k8.get(), DType::i8, 1, 64, 2, dim);
      in.q_scale = qs.as<float>(), in.k_scale = ks.as<float>(), in.lse_offset = off.as<float>();
      in.vt = vt.as<int8_t>(), in.v_scale = vs.as<float>(), in.vt_order = kernel_vt_order(kernel);
      return in;
    };
    auto expect_error = [](StatusCode code, const std::string& needle, auto&& call) {
      try {
        call();
        ADD_FAILURE() << "no error (expected: " << needle << ")";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      }
    };
    AttentionOptions opt;
    opt.backend = Backend::cuda;
    const TensorView o = TensorView::bshd(out.get(), DType::f32, 1, 64, 2, 128);
    // Misaligned Q̂ (the data is valid memory, one byte off).
    expect_error(StatusCode::unsupported, "16-byte aligned", [&] {
      attention_quantized(inputs(q8.as<int8_t>() + 1, 128), o, nullptr, opt);
    });
    // Host memory.
    expect_error(StatusCode::invalid_argument, "host memory", [&] {
      attention_quantized(inputs(p.q8.data(), 128), o, nullptr, opt);
    });
    // Unsupported head dim (the same bytes viewed as D = 96: sizes stay in bounds).
    expect_error(StatusCode::unsupported, "head dim 96", [&] {
      attention_quantized(inputs(q8.get(), 96), TensorView::bshd(out.get(), DType::f32, 1, 64, 2, 96),
                          nullptr, opt);
    });
    // A key block the kernel does not have.
    opt.kv_block = 32;
    expect_error(StatusCode::unsupported, "kv_block 32", [&] {
      attention_quantized(inputs(q8.get(), 128), o, nullptr, opt);
    });
    opt.kv_block = 0;
    // half-int8 needs 16-bit V on the GPU.
    std::vector<float> hv(x.v.size(), 1.f);
    GuardedBuffer vd(hv.size() * 4), qd(x.q.size() * 4);
    vd.upload(hv.data(), hv.size() * 4), qd.upload(x.q.data(), x.q.size() * 4);
    AttentionOptions half = opt;
    half.recipe = Recipe::half_int8();
    expect_error(StatusCode::unsupported, "fp16 or bf16 V", [&] {
      attention(TensorView::bshd(qd.get(), DType::f32, 1, 64, 2, 128),
                TensorView::bshd(vd.get(), DType::f32, 1, 64, 2, 128),
                TensorView::bshd(vd.get(), DType::f32, 1, 64, 2, 128), o, nullptr, half);
    });
    // The back-end still works after the errors (on the kernel of this pass).
    if (kernel == Kernel::sm90) {
      ASSERT_TRUE(runs_on_sm90(inputs(q8.get(), 128), o, nullptr, opt, s));
    }
    out.poison();
    attention_quantized(inputs(q8.get(), 128), o, nullptr, opt);
    INTFA_CUDA_OK(cudaDeviceSynchronize());
    const std::vector<float> got = out.download<float>();
    EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](float v) { return std::isfinite(v); }))
        << "output left unwritten";
    std::printf("[ intfa ] kernel %s  errors checked, %s\n", kernel_name(kernel), c.str().c_str());
  }
}

// INTFA_CUDA_KERNEL (the kernel-choice override of experiments and of
// bench/gpu.sh) accepts auto, sm90 and sm80; anything else is an error, not
// a silent default that would measure the wrong kernel.
TEST(CudaAttention, UnknownKernelChoiceIsAnError) {
  INTFA_REQUIRE_GPU();
  for (const char* value : {"auto", "sm90", "sm80", ""}) {
    ScopedEnv env("INTFA_CUDA_KERNEL", value);
    EXPECT_NO_THROW(default_vt_order(Backend::cuda)) << "INTFA_CUDA_KERNEL=" << value;
  }
  ScopedEnv env("INTFA_CUDA_KERNEL", "sm100");
  try {
    default_vt_order(Backend::cuda);
    ADD_FAILURE() << "INTFA_CUDA_KERNEL=sm100 was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::invalid_argument) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a kernel choice"), std::string::npos) << e.what();
  }
}

// Small shapes for compute-sanitizer (memcheck, racecheck): every kernel
// instantiation, ragged and causal blocks. bench/gpu.sh runs this filter. On a
// Hopper device every int8-V case also runs on the wgmma kernel: each of its
// instantiations (D 64/128/256 × paper/intfa), causal and not.
TEST(CudaSanitize, SmallShapesEveryKernel) {
  INTFA_REQUIRE_GPU();
  auto rng = rng_for_test();
  Totals t;
  const bool hopper = default_vt_order(Backend::cuda) == VtOrder::interleaved16;
  for (int64_t d : {64, 128, 256})
    for (const char* r : {"intfa", "paper", "half-int8"})
      for (bool causal : {true, false}) {
        const bool half = std::string(r) == "half-int8";
        Case c{{1, 2, 1, 130, 77, d}, r, half ? DType::bf16 : DType::i8, causal,
               causal ? DType::f16 : DType::bf16, causal};
        const size_t sm90_before = t.runs[static_cast<int>(Kernel::sm90)];
        run_case(c, rng, t);
        if (hopper && !half) {
          EXPECT_EQ(t.runs[static_cast<int>(Kernel::sm90)], sm90_before + 1)
              << "the Hopper kernel did not run " << c.str();
        }
      }
  Case c{{1, 1, 1, 100, 200, 128}, "intfa", DType::i8, false, DType::f32, false, true, 128};
  run_case(c, rng, t);
  Case c64{{1, 2, 1, 250, 333, 128}, "intfa", DType::i8, true, DType::bf16, true, true, 64};
  run_case(c64, rng, t);
  // D = 256 intfa on the mma.sync kernel's key block (the default above is the
  // Hopper kernel's 128 on a Hopper device).
  Case c256{{1, 2, 1, 130, 77, 256}, "intfa", DType::i8, true, DType::f16, true, true, 64};
  run_case(c256, rng, t);
  // 256-key blocks (the Hopper kernel only; elsewhere no kernel runs them).
  for (int64_t d : {64, 128}) {
    Case c256k{{1, 2, 1, 130, 300, d}, "intfa", DType::i8, true, DType::f16, false, true, 256};
    run_case(c256k, rng, t);
  }
  Case h{{1, 1, 1, 65, 130, 128}, "half-int8", DType::f16, false};
  run_case(h, rng, t);
  print_totals(t);
}

}  // namespace
}  // namespace intfa::test
