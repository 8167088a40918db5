// A first-order rounding-noise model of each recipe's output error, computed
// from the data itself. The accuracy tests compare the measured error with
// this prediction instead of a hand-picked tolerance.
//
// Model (per query row, natural units; w = exact softmax weights, R = exact
// output, every rounding error independent with variance step²/12, or p² when
// a probability p below half a step is flushed to zero):
//   scores   z_j  error var  σ²_j = scale² Σ_d (q_d² Δk_jd² + k_jd² Δq_d²)/12
//            → output var     Σ_j w_j² σ²_j (v_jd − R_d)²
//              (Q's error is shared by all keys of a row; for the output this
//              sum is its expectation over V independent of K. For the LSE the
//              shared part is added coherently, see below.)
//   V        error var Δv²/12 → Σ_j w_j² Δv_jd²/12
//   P        (the key at the reference max has P = 1, stored exactly)
//            weights c_j·p̂_j/l with c_j = exp(m_ref(j) − m_final) the factor
//            that rescales a block's P to the final max, e_j = p̂_j − p_j:
//            l from unrounded P (paper, fp16, e4m3):  Σ_j c_j² E[e_j²] v_jd² / l²
//            l from quantized P (intfa's uint8):      Σ_j c_j² E[e_j²] (v_jd − R_d)² / l²
// Predicted E|ΔO| = sqrt(2/π)·σ for Gaussian-like sums of many small errors.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/numeric.hpp"
#include "intfa/intfa.hpp"
#include "test_util.hpp"

namespace intfa::test {

// Rounding step of x in each format (x in the format's own units).
inline double fp16_step(double x) {
  const double a = std::fabs(x);
  if (a < 6.103515625e-05) return 5.9604644775390625e-08;  // subnormal: 2^-24
  return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(a))) - 10);
}
inline double e4m3_step(double x) {
  const double a = std::fabs(x);
  if (a < 0.015625) return 0.001953125;  // subnormal: 2^-9
  return std::ldexp(1.0, static_cast<int>(std::floor(std::log2(a))) - 3);
}
// E[e²] for rounding x to a grid of `step` (flush to zero below half a step).
inline double rounding_var(double x, double step) {
  const double a = std::fabs(x);
  return a < step / 2 ? a * a : step * step / 12.0;
}

struct ErrorPrediction {
  double rel_l1 = 0;              // predicted Σ|ΔO| / Σ|R|
  double ref_l1 = 0;              // Σ|R|
  std::vector<double> lse_sigma;  // [B, H, Sq] predicted std. dev. of the LSE error
};

// Predicts the error of `recipe` on `in`, with key blocks of `kv_block` (the
// granularity of the uint8 P scale and of the rescaling). Causal masking is
// bottom-right aligned. The LSE error: δlse = Σ_j w_j ε_j + (δl / l).
inline ErrorPrediction predict_error(const Inputs& in, const Recipe& recipe, int64_t kv_block,
                                     bool causal = false) {
  const Shape& s = in.shape;
  const int64_t D = s.head_dim, Sq = s.seqlen_q, Sk = s.seqlen_k;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  double sum_sigma = 0, sum_ref = 0;
  std::vector<double> lse_sigma(static_cast<size_t>(s.batch * s.heads * Sq), 0.0);

  // Per-tensor amax for the FP8 formats.
  auto amax_of = [](const std::vector<float>& x) {
    double a = 0;
    for (float e : x) a = std::max(a, static_cast<double>(std::fabs(e)));
    return a;
  };
  const double fp8_sq = amax_of(in.q) / 448.0, fp8_sk = amax_of(in.k) / 448.0,
               fp8_sv = amax_of(in.v) / 448.0;

  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t hk = 0; hk < s.kv_heads; ++hk) {
      // Keys (smoothed when the recipe smooths), their per-element error
      // variances, and V's.
      std::vector<double> k(static_cast<size_t>(Sk * D)), k_var(k.size()), v(k.size()),
          v_var(k.size());
      std::vector<double> mean(static_cast<size_t>(D), 0.0);
      auto kat = [&](int64_t j, int64_t d) {
        return static_cast<double>(in.k[static_cast<size_t>(((b * Sk + j) * s.kv_heads + hk) * D + d)]);
      };
      auto vat = [&](int64_t j, int64_t d) {
        return static_cast<double>(in.v[static_cast<size_t>(((b * Sk + j) * s.kv_heads + hk) * D + d)]);
      };
      if (recipe.smooth_k)
        for (int64_t j = 0; j < Sk; ++j)
          for (int64_t d = 0; d < D; ++d) mean[d] += kat(j, d) / static_cast<double>(Sk);
      std::vector<double> v_amax(static_cast<size_t>(D), 0.0);
      for (int64_t j = 0; j < Sk; ++j)
        for (int64_t d = 0; d < D; ++d) v_amax[d] = std::max(v_amax[d], std::fabs(vat(j, d)));
      if (recipe.v == VFormat::int8_per_tensor) {
        const double all = *std::max_element(v_amax.begin(), v_amax.end());
        std::fill(v_amax.begin(), v_amax.end(), all);
      }
      for (int64_t j = 0; j < Sk; ++j) {
        double amax = 0;
        for (int64_t d = 0; d < D; ++d) {
          k[j * D + d] = kat(j, d) - mean[d];
          amax = std::max(amax, std::fabs(k[j * D + d]));
          v[j * D + d] = vat(j, d);
        }
        for (int64_t d = 0; d < D; ++d) {
          const double kx = k[j * D + d], vx = v[j * D + d];
          switch (recipe.qk) {
            case QKFormat::int8_per_token: k_var[j * D + d] = rounding_var(kx, amax / 127.0); break;
            case QKFormat::fp16: k_var[j * D + d] = rounding_var(kx, fp16_step(kx)); break;
            case QKFormat::e4m3_per_tensor:
              k_var[j * D + d] = rounding_var(kx, e4m3_step(kx / fp8_sk) * fp8_sk);
              break;
          }
          switch (recipe.v) {
            case VFormat::int8_per_tensor:
            case VFormat::int8_per_channel:
              v_var[j * D + d] = rounding_var(vx, v_amax[d] / 127.0);
              break;
            case VFormat::fp16: v_var[j * D + d] = rounding_var(vx, fp16_step(vx)); break;
            case VFormat::e4m3_per_tensor:
              v_var[j * D + d] = rounding_var(vx, e4m3_step(vx / fp8_sv) * fp8_sv);
              break;
          }
        }
      }
      for (int64_t h = hk * (s.heads / s.kv_heads); h < (hk + 1) * (s.heads / s.kv_heads); ++h) {
        for (int64_t i = 0; i < Sq; ++i) {
          std::vector<double> q(static_cast<size_t>(D)), q_var(static_cast<size_t>(D));
          double q_amax = 0;
          for (int64_t d = 0; d < D; ++d) {
            q[d] = in.q[static_cast<size_t>(((b * Sq + i) * s.heads + h) * D + d)];
            q_amax = std::max(q_amax, std::fabs(q[d]));
          }
          for (int64_t d = 0; d < D; ++d) {
            switch (recipe.qk) {
              case QKFormat::int8_per_token: q_var[d] = rounding_var(q[d], q_amax / 127.0); break;
              case QKFormat::fp16: q_var[d] = rounding_var(q[d], fp16_step(q[d])); break;
              case QKFormat::e4m3_per_tensor:
                q_var[d] = rounding_var(q[d], e4m3_step(q[d] / fp8_sq) * fp8_sq);
                break;
            }
          }
          // Exact scores, weights, output over the keys this row sees.
          const int64_t visible =
              causal ? std::clamp<int64_t>(i + Sk - Sq + 1, 0, Sk) : Sk;
          if (visible == 0) continue;
          std::vector<double> z(static_cast<size_t>(visible)), z_var(z.size());
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < visible; ++j) {
            double dot = 0, var = 0;
            for (int64_t d = 0; d < D; ++d) {
              dot += q[d] * k[j * D + d];
              var += q[d] * q[d] * k_var[j * D + d] + k[j * D + d] * k[j * D + d] * q_var[d];
            }
            z[j] = dot * scale;
            z_var[j] = var * scale * scale;
            m = std::max(m, z[j]);
          }
          double l = 0;
          std::vector<double> w(z.size()), ref(static_cast<size_t>(D), 0.0);
          for (int64_t j = 0; j < visible; ++j) l += (w[j] = std::exp(z[j] - m));
          for (int64_t j = 0; j < visible; ++j) {
            w[j] /= l;
            for (int64_t d = 0; d < D; ++d) ref[d] += w[j] * v[j * D + d];
          }
          // Reference max of each key's P: the running max (paper, fp16,
          // e4m3) or the block's own max (uint8), in final-max units c_j.
          std::vector<double> p_var(z.size()), c(z.size());
          double running = -std::numeric_limits<double>::infinity();
          for (int64_t n0 = 0; n0 < visible; n0 += kv_block) {
            const int64_t n1 = std::min(visible, n0 + kv_block);
            double block_max = -std::numeric_limits<double>::infinity();
            for (int64_t j = n0; j < n1; ++j) block_max = std::max(block_max, z[j]);
            running = std::max(running, block_max);
            const double m_ref = recipe.p == PFormat::uint8_block_max ? block_max : running;
            for (int64_t j = n0; j < n1; ++j) {
              const double p = std::exp(z[j] - m_ref);
              c[j] = std::exp(m_ref - m);
              if (z[j] == m_ref) {  // P = 1 exactly: every P format stores it without error
                p_var[j] = 0;
                continue;
              }
              switch (recipe.p) {
                case PFormat::int8_running_max: p_var[j] = rounding_var(p, 1.0 / 127.0); break;
                case PFormat::uint8_block_max: p_var[j] = rounding_var(p, 1.0 / 255.0); break;
                case PFormat::fp16: p_var[j] = rounding_var(p, fp16_step(p)); break;
                case PFormat::e4m3: p_var[j] = rounding_var(p, e4m3_step(p)); break;
              }
            }
          }
          const bool l_from_quantized = recipe.p == PFormat::uint8_block_max;
          // LSE: K's rounding is independent per key, but Q's is shared by all
          // keys of the row, so its effect adds coherently: Δq · Σ_j w_j k_j.
          // (Softmax cancels that common shift in the output, not in the LSE.)
          double lse_var = 0;
          for (int64_t d = 0; d < D; ++d) {
            double k_mean_w = 0;
            for (int64_t j = 0; j < visible; ++j) k_mean_w += w[j] * k[j * D + d];
            lse_var += scale * scale * q_var[d] * k_mean_w * k_mean_w;
          }
          for (int64_t j = 0; j < visible; ++j) {
            double k_term = 0;
            for (int64_t d = 0; d < D; ++d) k_term += q[d] * q[d] * k_var[j * D + d];
            lse_var += w[j] * w[j] * scale * scale * k_term;
            if (l_from_quantized) lse_var += c[j] * c[j] * p_var[j] / (l * l);
          }
          lse_sigma[static_cast<size_t>((b * s.heads + h) * Sq + i)] = std::sqrt(lse_var);
          for (int64_t d = 0; d < D; ++d) {
            double var = 0;
            for (int64_t j = 0; j < visible; ++j) {
              const double centered = v[j * D + d] - ref[d];
              var += w[j] * w[j] * (z_var[j] * centered * centered + v_var[j * D + d]);
              const double pv = l_from_quantized ? centered : v[j * D + d];
              var += c[j] * c[j] * p_var[j] * pv * pv / (l * l);
            }
            sum_sigma += std::sqrt(var);
            sum_ref += std::fabs(ref[d]);
          }
        }
      }
    }
  }
  ErrorPrediction e;
  e.rel_l1 = std::sqrt(2.0 / M_PI) * sum_sigma / sum_ref;
  e.ref_l1 = sum_ref;
  e.lse_sigma = std::move(lse_sigma);
  return e;
}

}  // namespace intfa::test
