// Exact attention in float64: the yardstick for every error figure.
// Per (batch, head): K is converted to float64 and transposed ([D, Sk]) so the
// score loop runs over keys, V to float64 [Sk, D] so the output loop runs over
// D; both loops vectorize without reassociating any sum.
#include <cmath>
#include <limits>
#include <vector>

#include "core/tensor_access.hpp"
#include "core/threading.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/softmax_row.hpp"

namespace intfa::cpu {

void attention_reference(const TensorView& q, const TensorView& k, const TensorView& v,
                         double* out, double* lse, bool causal, double softmax_scale) {
  const int64_t B = q.batch, H = q.heads, Hk = k.heads, Sq = q.seq, Sk = k.seq, D = q.dim;
  const int64_t ratio = H / Hk;
  detail::parallel_for(B * H, [&](int64_t task) {
    const int64_t b = task / H, h = task % H, hk = h / ratio;
    std::vector<float> row(static_cast<size_t>(D));
    std::vector<double> kt(static_cast<size_t>(D * Sk)), vv(static_cast<size_t>(Sk * D));
    for (int64_t j = 0; j < Sk; ++j) {
      detail::load_row(k, b, j, hk, row.data());
      for (int64_t d = 0; d < D; ++d) kt[d * Sk + j] = row[d];
      detail::load_row(v, b, j, hk, row.data());
      for (int64_t d = 0; d < D; ++d) vv[j * D + d] = row[d];
    }
    std::vector<double> qd(static_cast<size_t>(D)), s(static_cast<size_t>(Sk)),
        o(static_cast<size_t>(D));
    for (int64_t i = 0; i < Sq; ++i) {
      detail::load_row(q, b, i, h, row.data());
      for (int64_t d = 0; d < D; ++d) qd[d] = static_cast<double>(row[d]) * softmax_scale;
      const int64_t visible = visible_keys(causal, i, Sq, Sk);
      std::fill(s.begin(), s.begin() + visible, 0.0);
      for (int64_t d = 0; d < D; ++d) {
        const double qv = qd[d];
        const double* kd = kt.data() + d * Sk;
        for (int64_t j = 0; j < visible; ++j) s[j] += qv * kd[j];
      }
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < visible; ++j) m = std::max(m, s[j]);
      double l = 0.0;
      std::fill(o.begin(), o.end(), 0.0);
      for (int64_t j = 0; j < visible; ++j) {
        const double pj = std::exp(s[j] - m);
        l += pj;
        const double* vj = vv.data() + j * D;
        for (int64_t d = 0; d < D; ++d) o[d] += pj * vj[d];
      }
      double* dst = out + ((b * Sq + i) * H + h) * D;  // [B, Sq, H, D]
      for (int64_t d = 0; d < D; ++d) dst[d] = visible > 0 ? o[d] / l : 0.0;
      if (lse)
        lse[(b * H + h) * Sq + i] =
            visible > 0 ? m + std::log(l) : -std::numeric_limits<double>::infinity();
    }
  });
}

}  // namespace intfa::cpu
