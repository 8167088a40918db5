// The float32 flash-attention baseline in portable C++ (Isa::scalar): one
// query row at a time, online softmax over key blocks, libm exp2f. The
// vectorized builds are in f32_kernel.hpp.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/softmax_row.hpp"

namespace intfa::cpu::simd {
namespace {

void f32_rows(const AttentionParams& p, int64_t b, int64_t h, int64_t q0, int64_t q1, void*) {
  const int64_t D = p.head_dim, N = p.kv_block, hk = h / p.head_ratio();
  const float* k_base = static_cast<const float*>(p.k) + b * p.k_batch_stride + hk * p.k_head_stride;
  const float* v_base = static_cast<const float*>(p.v) + b * p.v_batch_stride + hk * p.v_head_stride;
  std::vector<float> acc(static_cast<size_t>(D)), s(static_cast<size_t>(N));
  for (int64_t i = q0; i < q1; ++i) {
    const float* q =
        static_cast<const float*>(p.q) + b * p.q_batch_stride + i * p.q_row_stride + h * p.q_head_stride;
    const int64_t visible = visible_keys(p.causal, i, p.seqlen_q, p.seqlen_k);
    float m = -std::numeric_limits<float>::infinity(), l = 0.f;
    std::fill(acc.begin(), acc.end(), 0.f);
    for (int64_t n0 = 0; n0 < visible; n0 += N) {
      const int64_t n = std::min<int64_t>(N, visible - n0);
      float m_block = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        const float* k = k_base + (n0 + j) * p.k_row_stride;
        float dot = 0.f;
        for (int64_t d = 0; d < D; ++d) dot += q[d] * k[d];
        s[j] = dot * p.score_scale_log2;
        m_block = std::max(m_block, s[j]);
      }
      const float m_new = std::max(m, m_block);
      const float alpha = exp2f(m - m_new);
      for (int64_t d = 0; d < D; ++d) acc[d] *= alpha;
      float sum = 0.f;
      for (int64_t j = 0; j < n; ++j) {
        const float e = exp2f(s[j] - m_new);
        sum += e;
        const float* v = v_base + (n0 + j) * p.v_row_stride;
        for (int64_t d = 0; d < D; ++d) acc[d] += e * v[d];
      }
      l = l * alpha + sum;
      m = m_new;
    }
    finish_rows(p, b, h, i, 1, acc.data(), 1, &m, &l);
  }
}

}  // namespace

void attention_f32_scalar(const AttentionParams& p) {
  for_each_query_block(p, kQueryBlock, f32_rows, nullptr);
}

}  // namespace intfa::cpu::simd
