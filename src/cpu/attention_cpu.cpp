// The tiled CPU kernel. Same structure as the GPU kernels: one task per
// (batch, head, block of kQueryBlock queries); the keys are walked in blocks
// of params.kv_block with an online softmax. Integer products are exact int32.
//
// Per task scratch (M = query rows, N = kv_block, D = head dim):
//   q_tile   [M, D]   Q̂ rows
//   kt_tile  [D, N]   K̂ᵀ of the current key block (so the dot loop runs over keys)
//   v_tile   [N, D]   V̂ of the current key block (so the P·V loop runs over D)
//   scores   [M, N]   log2-domain scores (fp32), -inf where masked
//   p_tile   [M, N]   quantized P
//   acc      [M, D]   fp32 output accumulator
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/api_internal.hpp"
#include "core/numeric.hpp"
#include "core/tensor_access.hpp"
#include "core/threading.hpp"
#include "core/validate.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/isa.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/softmax_row.hpp"

namespace intfa::cpu {
namespace {

template <typename QKT, PFormat kP>
class TileKernel {
 public:
  using PElem = typename PTraits<kP>::Elem;
  using PAccum = typename PTraits<kP>::Accum;
  static constexpr bool kIntV = std::is_same_v<PAccum, int32_t>;
  using VElem = std::conditional_t<kIntV, int8_t, float>;
  using Dot = std::conditional_t<std::is_same_v<QKT, int8_t>, int32_t, float>;

  explicit TileKernel(const AttentionParams& p)
      : p_(p), D_(p.head_dim), N_(p.kv_block),
        q_tile_(static_cast<size_t>(kQueryBlock * D_)),
        kt_tile_(static_cast<size_t>(D_ * N_)),
        v_tile_(static_cast<size_t>(N_ * D_)),
        dots_(static_cast<size_t>(kQueryBlock * N_)),
        scores_(static_cast<size_t>(kQueryBlock * N_)),
        p_tile_(static_cast<size_t>(kQueryBlock * N_)),
        pv_(static_cast<size_t>(D_)),
        acc_(static_cast<size_t>(kQueryBlock * D_)),
        weights_(static_cast<size_t>(D_)),
        rows_(kQueryBlock) {}

  void run(int64_t b, int64_t h, int64_t q_begin, int64_t q_end) {
    const int64_t M = q_end - q_begin;
    const int64_t hk = h / p_.head_ratio();
    const float* q_scale = p_.q_scale + (b * p_.heads + h) * p_.seqlen_q;   // [Sq]
    const float* k_scale = p_.k_scale + (b * p_.kv_heads + hk) * p_.seqlen_k;  // [Sk]
    const float* v_scale = p_.v_scale + (b * p_.kv_heads + hk) * D_;        // [D]

    // Load Q̂ rows and per-row score factors.
    float row_factor[kQueryBlock];
    const QKT* q_base = static_cast<const QKT*>(p_.q) + b * p_.q_batch_stride + h * p_.q_head_stride;
    for (int64_t i = 0; i < M; ++i) {
      std::copy_n(q_base + (q_begin + i) * p_.q_row_stride, D_, q_tile_.data() + i * D_);
      row_factor[i] = numeric::row_score_factor(q_scale[q_begin + i], p_.score_scale_log2);
      rows_[i] = RowState{};
    }
    std::fill(acc_.begin(), acc_.end(), 0.f);

    // Keys any row of this tile can see (bottom-right causal alignment).
    const int64_t key_end = visible_keys(p_.causal, q_end - 1, p_.seqlen_q, p_.seqlen_k);
    for (int64_t n0 = 0; n0 < key_end; n0 += N_) {
      const int64_t n = std::min<int64_t>(N_, p_.seqlen_k - n0);
      load_k_block(b, hk, n0, n);
      load_v_block(b, hk, n0, n);
      compute_scores(M, n, n0, q_begin, row_factor, k_scale);
      for (int64_t i = 0; i < M; ++i) {
        PElem* p_row = p_tile_.data() + i * N_;
        const BlockUpdate u = softmax_block<kP>(rows_[i], scores_.data() + i * N_, n, p_row);
        if (u.skip) continue;
        // pv[d] = Σ_j P[i, j] · V[j, d], exact in int32 for 8-bit P and V.
        std::fill(pv_.begin(), pv_.end(), PAccum(0));
        for (int64_t j = 0; j < n; ++j) {
          const PAccum pij = static_cast<PAccum>(p_row[j]);
          const VElem* v_row = v_tile_.data() + j * D_;
          for (int64_t d = 0; d < D_; ++d) pv_[d] += pij * static_cast<PAccum>(v_row[d]);
        }
        for (int64_t d = 0; d < D_; ++d) weights_[d] = u.pv_weight * v_scale[d];
        float* acc_row = acc_.data() + i * D_;
        for (int64_t d = 0; d < D_; ++d)
          acc_row[d] = acc_row[d] * u.alpha + static_cast<float>(pv_[d]) * weights_[d];
      }
    }

    // Normalize and store.
    const float* lse_offset =
        p_.lse_offset ? p_.lse_offset + (b * p_.heads + h) * p_.seqlen_q : nullptr;
    for (int64_t i = 0; i < M; ++i) {
      float* acc_row = acc_.data() + i * D_;
      const float lse = finish_row(rows_[i], acc_row, D_, p_.softmax_scale,
                                   lse_offset ? lse_offset[q_begin + i] : 0.f);
      const int64_t o_offset =
          b * p_.o_batch_stride + (q_begin + i) * p_.o_row_stride + h * p_.o_head_stride;
      detail::store_row(p_.out, p_.out_dtype, o_offset, acc_row, D_);
      if (p_.lse) p_.lse[(b * p_.heads + h) * p_.seqlen_q + q_begin + i] = lse;
    }
  }

 private:
  // kt_tile[d, j] = K[n0 + j, d]
  void load_k_block(int64_t b, int64_t hk, int64_t n0, int64_t n) {
    const QKT* k_base =
        static_cast<const QKT*>(p_.k) + b * p_.k_batch_stride + hk * p_.k_head_stride;
    for (int64_t j = 0; j < n; ++j) {
      const QKT* k_row = k_base + (n0 + j) * p_.k_row_stride;
      for (int64_t d = 0; d < D_; ++d) kt_tile_[d * N_ + j] = k_row[d];
    }
  }

  // v_tile[j, d] = V[n0 + j, d]
  void load_v_block(int64_t b, int64_t hk, int64_t n0, int64_t n) {
    if constexpr (kIntV) {
      // V̂ᵀ [D, Sk_pad] token-contiguous: transpose the block.
      const int8_t* vt = static_cast<const int8_t*>(p_.v) + b * p_.v_batch_stride +
                         hk * p_.v_head_stride;
      for (int64_t d = 0; d < D_; ++d) {
        const int8_t* channel = vt + d * p_.v_row_stride + n0;
        for (int64_t j = 0; j < n; ++j) v_tile_[j * D_ + d] = channel[j];
      }
    } else {
      TensorView v;
      v.data = const_cast<void*>(p_.v);
      v.dtype = p_.v_dtype;
      v.dim = D_;
      v.stride_batch = p_.v_batch_stride, v.stride_seq = p_.v_row_stride,
      v.stride_head = p_.v_head_stride;
      for (int64_t j = 0; j < n; ++j) detail::load_row(v, b, n0 + j, hk, v_tile_.data() + j * D_);
    }
  }

  void compute_scores(int64_t M, int64_t n, int64_t n0, int64_t q_begin, const float* row_factor,
                      const float* k_scale) {
    for (int64_t i = 0; i < M; ++i) {
      Dot* dot = dots_.data() + i * N_;
      std::fill(dot, dot + n, Dot(0));
      const QKT* q_row = q_tile_.data() + i * D_;
      // Loop over d outside, keys inside: every dot product still sums over d in
      // order, so float baselines match the emulation too.
      for (int64_t d = 0; d < D_; ++d) {
        const Dot qd = static_cast<Dot>(q_row[d]);
        const QKT* kt = kt_tile_.data() + d * N_;
        for (int64_t j = 0; j < n; ++j) dot[j] += qd * static_cast<Dot>(kt[j]);
      }
      const int64_t visible =
          visible_keys(p_.causal, q_begin + i, p_.seqlen_q, p_.seqlen_k) - n0;
      float* s = scores_.data() + i * N_;
      for (int64_t j = 0; j < n; ++j)
        s[j] = j < visible ? numeric::score_from_dot(dot[j], row_factor[i], k_scale[n0 + j])
                           : -std::numeric_limits<float>::infinity();
    }
  }

  const AttentionParams& p_;
  const int64_t D_, N_;
  std::vector<QKT> q_tile_, kt_tile_;
  std::vector<VElem> v_tile_;
  std::vector<Dot> dots_;
  std::vector<float> scores_;
  std::vector<PElem> p_tile_;
  std::vector<PAccum> pv_;
  std::vector<float> acc_, weights_;
  std::vector<RowState> rows_;
};

template <typename QKT, PFormat kP>
void run_tiled(const AttentionParams& p) {
  const int64_t q_blocks = (p.seqlen_q + kQueryBlock - 1) / kQueryBlock;
  const int64_t tasks = int64_t(p.batch) * p.heads * q_blocks;
  // Scratch is per task: tasks are large (kQueryBlock rows × all keys), so the
  // allocation is noise next to the arithmetic.
  detail::parallel_for(tasks, [&](int64_t task) {
    const int64_t qb = task % q_blocks;
    const int64_t h = (task / q_blocks) % p.heads;
    const int64_t b = task / (q_blocks * p.heads);
    TileKernel<QKT, kP> kernel(p);
    const int64_t q_begin = qb * kQueryBlock;
    kernel.run(b, h, q_begin, std::min<int64_t>(q_begin + kQueryBlock, p.seqlen_q));
  });
}

}  // namespace

void require_natural_vt(const AttentionParams& p) {
  if (p.v_dtype == DType::i8 && p.v_token_order != VtOrder::natural)
    throw Error(StatusCode::unsupported,
                "the CPU back-end reads V̂ᵀ in natural token order, but it is in " +
                    std::string(p.v_token_order == VtOrder::interleaved16 ? "interleaved16"
                                                                          : "an unknown") +
                    " order: quantize V with VtOrder::natural for the CPU back-end "
                    "(intfa::attention_quantized reorders V̂ᵀ itself)");
}

void attention_tiled(const AttentionParams& p) {
  require_natural_vt(p);
  if (simd::int_kernel_supports(p)) {
    switch (active_isa()) {
      case Isa::avx2: return simd::attention_int_avx2(p);
      case Isa::avx512: return simd::attention_int_avx512(p);
      case Isa::avx512_vnni: return simd::attention_int_avx512_vnni(p);
      case Isa::scalar: break;
    }
  }
  attention_tiled_scalar(p);
}

void attention_tiled_scalar(const AttentionParams& p) {
  require_natural_vt(p);
  const bool int_qk = p.qk_dtype == DType::i8;
  switch (p.recipe.p) {
    case PFormat::int8_running_max:
      return run_tiled<int8_t, PFormat::int8_running_max>(p);
    case PFormat::uint8_block_max:
      return run_tiled<int8_t, PFormat::uint8_block_max>(p);
    case PFormat::fp16:
      return int_qk ? run_tiled<int8_t, PFormat::fp16>(p) : run_tiled<float, PFormat::fp16>(p);
    case PFormat::e4m3:
      return int_qk ? run_tiled<int8_t, PFormat::e4m3>(p) : run_tiled<float, PFormat::e4m3>(p);
  }
}

void attention_f32_flash(const AttentionParams& params) {
  AttentionParams p = params;
  if (p.kv_block == 0) p.kv_block = 64;
  if (p.qk_dtype != DType::f32 || p.v_dtype != DType::f32)
    throw Error(StatusCode::invalid_argument, "attention_f32_flash takes f32 Q, K and V");
  switch (active_isa()) {
    case Isa::avx2: return simd::attention_f32_avx2(p);
    case Isa::avx512:
    case Isa::avx512_vnni: return simd::attention_f32_avx512(p);
    case Isa::scalar: break;
  }
  simd::attention_f32_scalar(p);
}

void attention_f32_flash(const TensorView& q, const TensorView& k, const TensorView& v,
                         const TensorView& out, float* lse, bool causal,
                         std::optional<float> softmax_scale, int32_t kv_block) {
  detail::check_tensor(q, "q", {DType::f32});
  detail::check_tensor(k, "k", {DType::f32});
  detail::check_tensor(v, "v", {DType::f32});
  detail::check_tensor(out, "out", {DType::f32, DType::f16, DType::bf16});
  if (kv_block < 0 || kv_block > 4096)
    detail::fail("kv_block must be 0 (default 64) or in 1..4096 (got " +
                 std::to_string(kv_block) + ")");
  const detail::Shape s = detail::check_attention_shapes(q, k, &v, out);
  detail::check_head_dim_cpu(s.head_dim);
  AttentionOptions opt;
  opt.softmax_scale = softmax_scale;
  opt.causal = causal;
  opt.kv_block = kv_block;
  const AttentionParams p = detail::float_operand_params(q, k, v, out, lse, opt, s);
  attention_f32_flash(p);
}

}  // namespace intfa::cpu
