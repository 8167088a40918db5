// CPU quantization: per-token Q/K (optionally K-smoothed), V to the
// token-contiguous V̂ᵀ layout, and the float baselines' operand rounding.
// Parallel over (batch, head); every rule is in core/numeric.hpp.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <vector>

#include "core/numeric.hpp"
#include "core/tensor_access.hpp"
#include "core/threading.hpp"
#include "cpu/cpu_backend.hpp"

namespace intfa::cpu {
namespace {

using detail::load_row;
using detail::parallel_for;

bool is_finite(float x) { return fabsf(x) <= FLT_MAX; }

// max(a, |x|) for finite x: a comparison the compiler vectorizes (maxps), where
// fmaxf would be a library call per element.
inline float max_abs(float a, float x) {
  const float m = fabsf(x);
  return m > a ? m : a;
}

[[noreturn]] void throw_nonfinite(const char* what, int64_t b, int64_t s, int64_t h) {
  throw Error(StatusCode::nonfinite_input,
              std::string(what) + " contains NaN or Inf at batch " + std::to_string(b) +
                  ", token " + std::to_string(s) + ", head " + std::to_string(h) +
                  " (intfa rejects non-finite inputs; see docs/NUMERICS.md)");
}

void check_row_finite(const float* row, int64_t n, const char* what, int64_t b, int64_t s,
                      int64_t h) {
  for (int64_t d = 0; d < n; ++d)
    if (!is_finite(row[d])) throw_nonfinite(what, b, s, h);
}

// Quantizes one row in place into `dst` and returns its scale.
float quantize_row(const float* row, int64_t n, int8_t* dst) {
  float amax = 0.f;
  for (int64_t d = 0; d < n; ++d) amax = max_abs(amax, row[d]);
  const float inv = numeric::int8_inverse_scale(amax);
  for (int64_t d = 0; d < n; ++d) dst[d] = numeric::quantize_int8(row[d], inv);
  return numeric::int8_scale(amax);
}

// Largest |x| over a whole tensor (per-tensor FP8 scales), checking finiteness.
float tensor_amax(const TensorView& x, const char* what) {
  std::vector<float> per_task(static_cast<size_t>(x.batch * x.heads), 0.f);
  parallel_for(x.batch * x.heads, [&](int64_t task) {
    const int64_t b = task / x.heads, h = task % x.heads;
    std::vector<float> row(static_cast<size_t>(x.dim));
    float amax = 0.f;
    for (int64_t s = 0; s < x.seq; ++s) {
      load_row(x, b, s, h, row.data());
      check_row_finite(row.data(), x.dim, what, b, s, h);
      for (float v : row) amax = max_abs(amax, v);
    }
    per_task[static_cast<size_t>(task)] = amax;
  });
  float amax = 0.f;
  for (float v : per_task) amax = fmaxf(amax, v);
  return amax;
}

}  // namespace

void channel_mean(const TensorView& k, float* mean) {
  parallel_for(k.batch * k.heads, [&](int64_t task) {
    const int64_t b = task / k.heads, h = task % k.heads;
    std::vector<float> row(static_cast<size_t>(k.dim));
    std::vector<double> sum(static_cast<size_t>(k.dim), 0.0);
    for (int64_t s = 0; s < k.seq; ++s) {
      load_row(k, b, s, h, row.data());
      check_row_finite(row.data(), k.dim, "K", b, s, h);
      for (int64_t d = 0; d < k.dim; ++d) sum[d] += row[d];
    }
    float* out = mean + task * k.dim;  // [B, Hk, D]
    for (int64_t d = 0; d < k.dim; ++d)
      out[d] = static_cast<float>(sum[d] / static_cast<double>(k.seq));
  });
}

void quantize_per_token(const TensorView& x, const float* mean, const TensorView& out,
                        float* scale) {
  parallel_for(x.batch * x.heads, [&](int64_t task) {
    const int64_t b = task / x.heads, h = task % x.heads;
    std::vector<float> row(static_cast<size_t>(x.dim));
    const float* mu = mean ? mean + task * x.dim : nullptr;  // [B, H, D]
    for (int64_t s = 0; s < x.seq; ++s) {
      load_row(x, b, s, h, row.data());
      check_row_finite(row.data(), x.dim, mean ? "K" : "input", b, s, h);
      if (mu)
        for (int64_t d = 0; d < x.dim; ++d) row[d] -= mu[d];
      int8_t* dst = static_cast<int8_t*>(out.data) + out.offset(b, s, h);
      scale[task * x.seq + s] = quantize_row(row.data(), x.dim, dst);  // [B, H, S]
    }
  });
}

void quantize_q(const TensorView& q, const TensorView& out, float* scale, const float* k_mean,
                int64_t kv_heads, float* lse_offset) {
  const int64_t ratio = q.heads / kv_heads;
  parallel_for(q.batch * q.heads, [&](int64_t task) {
    const int64_t b = task / q.heads, h = task % q.heads;
    std::vector<float> row(static_cast<size_t>(q.dim));
    const float* mu = k_mean ? k_mean + (b * kv_heads + h / ratio) * q.dim : nullptr;
    for (int64_t s = 0; s < q.seq; ++s) {
      load_row(q, b, s, h, row.data());
      check_row_finite(row.data(), q.dim, "Q", b, s, h);
      if (mu && lse_offset) {
        double dot = 0.0;
        for (int64_t d = 0; d < q.dim; ++d) dot += static_cast<double>(row[d]) * mu[d];
        lse_offset[task * q.seq + s] = static_cast<float>(dot);
      }
      int8_t* dst = static_cast<int8_t*>(out.data) + out.offset(b, s, h);
      scale[task * q.seq + s] = quantize_row(row.data(), q.dim, dst);
    }
  });
}

void quantize_v(const TensorView& v, VFormat format, VtOrder order, int8_t* vt, float* scale) {
  const int64_t seq_padded = padded_kv_length(v.seq);
  const bool per_channel = format == VFormat::int8_per_channel;
  parallel_for(v.batch * v.heads, [&](int64_t task) {
    const int64_t b = task / v.heads, h = task % v.heads;
    const int64_t D = v.dim, S = v.seq;
    std::vector<float> values(static_cast<size_t>(S * D));  // [S, D]
    std::vector<float> amax(static_cast<size_t>(D), 0.f);
    for (int64_t s = 0; s < S; ++s) {
      float* row = values.data() + s * D;
      load_row(v, b, s, h, row);
      check_row_finite(row, D, "V", b, s, h);
      for (int64_t d = 0; d < D; ++d) amax[d] = max_abs(amax[d], row[d]);
    }
    if (!per_channel) {
      float all = 0.f;
      for (float a : amax) all = fmaxf(all, a);
      for (float& a : amax) a = all;
    }
    int8_t* head_vt = vt + task * D * seq_padded;  // [D, Sk_pad]
    float* head_scale = scale + task * D;         // [D]
    for (int64_t d = 0; d < D; ++d) {
      const float inv = numeric::int8_inverse_scale(amax[d]);
      int8_t* dst = head_vt + d * seq_padded;
      if (order == VtOrder::natural) {
        for (int64_t s = 0; s < S; ++s) dst[s] = numeric::quantize_int8(values[s * D + d], inv);
        for (int64_t s = S; s < seq_padded; ++s) dst[s] = 0;
      } else {  // padding tokens (>= S) are zero wherever they land
        for (int64_t s = 0; s < seq_padded; ++s)
          dst[vt_position(s, order)] =
              s < S ? numeric::quantize_int8(values[s * D + d], inv) : int8_t{0};
      }
      head_scale[d] = numeric::int8_scale(amax[d]);
    }
  });
}

void reorder_vt(const int8_t* src, VtOrder from, int8_t* dst, VtOrder to, int64_t rows,
                int64_t seq_padded) {
  if (from == to) {
    std::copy(src, src + rows * seq_padded, dst);
    return;
  }
  // Within each group of 16 positions: token t moves from vt_position(t, from)
  // to vt_position(t, to).
  int64_t from_pos[16], to_pos[16];
  for (int64_t t = 0; t < 16; ++t) from_pos[t] = vt_position(t, from), to_pos[t] = vt_position(t, to);
  const int64_t groups = rows * (seq_padded / 16);
  parallel_for((groups + 4095) / 4096, [&](int64_t chunk) {
    const int64_t g1 = std::min(groups, (chunk + 1) * 4096);
    for (int64_t g = chunk * 4096; g < g1; ++g) {
      const int8_t* s16 = src + 16 * g;
      int8_t* d16 = dst + 16 * g;
      for (int64_t t = 0; t < 16; ++t) d16[to_pos[t]] = s16[from_pos[t]];
    }
  });
}

namespace {

// Rounds every element of x into `out` (f32, contiguous bshd): to fp16, or to
// E4M3 after multiplying by 448 / amax over the whole tensor (FlashAttention-3's
// per-tensor FP8). Returns the dequantization scale (1 for fp16).
float round_float_operand(const TensorView& x, bool fp8, const char* what, float* out) {
  const float amax = fp8 ? tensor_amax(x, what) : 0.f;
  const float inv = fp8 ? (amax > 0.f ? numeric::kE4M3Max / amax : 0.f) : 1.f;
  const TensorView dst = TensorView::bshd(out, DType::f32, x.batch, x.seq, x.heads, x.dim);
  parallel_for(x.batch * x.heads, [&](int64_t task) {
    const int64_t b = task / x.heads, h = task % x.heads;
    std::vector<float> row(static_cast<size_t>(x.dim));
    for (int64_t s = 0; s < x.seq; ++s) {
      load_row(x, b, s, h, row.data());
      check_row_finite(row.data(), x.dim, what, b, s, h);
      float* o = out + dst.offset(b, s, h);
      for (int64_t d = 0; d < x.dim; ++d)
        o[d] = fp8 ? numeric::round_to_e4m3(row[d] * inv) : numeric::round_to_fp16(row[d]);
    }
  });
  return fp8 ? amax / numeric::kE4M3Max : 1.f;
}

}  // namespace

void convert_to_fp16(const TensorView& x, uint16_t* out) {
  const TensorView dst = TensorView::bshd(out, DType::f16, x.batch, x.seq, x.heads, x.dim);
  parallel_for(x.batch * x.heads, [&](int64_t task) {
    const int64_t b = task / x.heads, h = task % x.heads;
    std::vector<float> row(static_cast<size_t>(x.dim));
    for (int64_t s = 0; s < x.seq; ++s) {
      load_row(x, b, s, h, row.data());
      check_row_finite(row.data(), x.dim, "V", b, s, h);
      uint16_t* o = out + dst.offset(b, s, h);
      for (int64_t d = 0; d < x.dim; ++d) o[d] = numeric::float_to_half_bits(row[d]);
    }
  });
}

void prepare_float_qk(const TensorView& x, QKFormat format, float* out, float* scale) {
  const float s = round_float_operand(x, format == QKFormat::e4m3_per_tensor, "input", out);
  std::fill(scale, scale + x.batch * x.heads * x.seq, s);  // [B, H, S]
}

void prepare_float_v(const TensorView& v, VFormat format, float* out, float* scale) {
  const float s = round_float_operand(v, format == VFormat::e4m3_per_tensor, "V", out);
  std::fill(scale, scale + v.batch * v.heads * v.dim, s);  // [B, H, D]
}

}  // namespace intfa::cpu
