#include "metrics.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace intfa::bench {

ErrorStats ErrorAccumulator::stats() const {
  ErrorStats s;
  if (abs_ref_ > 0) s.rel_l1 = abs_diff_ / abs_ref_;
  else s.rel_l1 = abs_diff_ == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  if (out_sq_ > 0 && ref_sq_ > 0) s.cos = dot_ / std::sqrt(out_sq_ * ref_sq_);
  else s.cos = out_sq_ == ref_sq_ ? 1.0 : 0.0;
  s.max_abs = max_abs_;
  return s;
}

std::vector<int64_t> all_rows(int64_t n) {
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  return rows;
}

std::vector<int64_t> sample_query_rows(int64_t seqlen_q, int64_t count, std::mt19937_64& rng) {
  if (count <= 0 || count >= seqlen_q) return all_rows(seqlen_q);
  // Floyd's algorithm: `count` distinct values, each subset equally likely.
  std::set<int64_t> chosen;
  for (int64_t j = seqlen_q - count; j < seqlen_q; ++j) {
    const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
    chosen.insert(chosen.count(t) ? j : t);
  }
  return {chosen.begin(), chosen.end()};
}

int64_t visible_keys(bool causal, int64_t row, int64_t seqlen_q, int64_t seqlen_k) {
  if (!causal) return seqlen_k;
  return std::clamp<int64_t>(row + seqlen_k - seqlen_q + 1, 0, seqlen_k);
}

std::vector<float> gather_rows(const float* x, int64_t batch, int64_t seqlen, int64_t row_width,
                               const std::vector<int64_t>& rows) {
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<float> gathered(static_cast<size_t>(batch * n * row_width));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(x + (b * seqlen + rows[static_cast<size_t>(i)]) * row_width, row_width,
                  gathered.begin() + (b * n + i) * row_width);
  return gathered;
}

RowSelection select_rows_keeping_q_max(const std::vector<float>& q, int64_t seqlen_q,
                                       int64_t row_width, int64_t count, std::mt19937_64& rng) {
  const std::vector<int64_t> drawn = sample_query_rows(seqlen_q, count, rng);
  size_t largest = 0;
  for (size_t i = 1; i < q.size(); ++i)
    if (std::fabs(q[i]) > std::fabs(q[largest])) largest = i;
  // q is [B, Sq, H, D]: the largest element's token position, in any batch.
  const int64_t max_token = static_cast<int64_t>(largest) / row_width % seqlen_q;
  RowSelection rows;
  rows.computed = drawn;
  if (!std::binary_search(drawn.begin(), drawn.end(), max_token))
    rows.computed.insert(std::lower_bound(rows.computed.begin(), rows.computed.end(), max_token),
                         max_token);
  for (size_t i = 0; i < rows.computed.size(); ++i)
    if (std::binary_search(drawn.begin(), drawn.end(), rows.computed[i]))
      rows.scored.push_back({static_cast<int64_t>(i), static_cast<int64_t>(i)});
  return rows;
}

std::vector<double> reference_rows(const Problem& p, const std::vector<int64_t>& rows) {
  const int64_t B = p.batch, H = p.heads, Hk = p.kv_heads, Sq = p.seqlen_q, Sk = p.seqlen_k,
                D = p.head_dim;
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t row_width = H * D;
  const auto k = TensorView::bshd(p.k, DType::f32, B, Sk, Hk, D);
  const auto v = TensorView::bshd(p.v, DType::f32, B, Sk, Hk, D);
  std::vector<double> ref(static_cast<size_t>(B * n * row_width));  // [B, n, H, D]
  if (n == Sq) {  // every row, in order: one call on the whole problem
    attention_reference(TensorView::bshd(p.q, DType::f32, B, Sq, H, D), k, v, ref.data(), nullptr,
                        p.causal);
    return ref;
  }
  const std::vector<float> q_rows = gather_rows(p.q, B, Sq, row_width, rows);  // [B, n, H, D]
  if (!p.causal) {
    attention_reference(TensorView::bshd(q_rows.data(), DType::f32, B, n, H, D), k, v, ref.data(),
                        nullptr, false);
    return ref;
  }
  // Causal: a gathered row no longer sits at its true position, so each row
  // gets its own unmasked call over exactly the keys it sees (views of the
  // first `visible` keys keep the full tensors' strides).
  std::vector<double> one_row(static_cast<size_t>(B * row_width));  // [B, 1, H, D]
  for (int64_t i = 0; i < n; ++i) {
    const int64_t visible = visible_keys(true, rows[static_cast<size_t>(i)], Sq, Sk);
    if (visible == 0) continue;  // no key visible: the output row is 0 by definition
    TensorView q_row = TensorView::bshd(q_rows.data() + i * row_width, DType::f32, B, 1, H, D);
    q_row.stride_batch = n * row_width;
    TensorView k_seen = k, v_seen = v;
    k_seen.seq = v_seen.seq = visible;
    attention_reference(q_row, k_seen, v_seen, one_row.data(), nullptr, false);
    for (int64_t b = 0; b < B; ++b)
      std::copy_n(one_row.begin() + b * row_width, row_width,
                  ref.begin() + (b * n + i) * row_width);
  }
  return ref;
}

ErrorStats compare_rows(const float* out, int64_t out_seq, const double* ref, int64_t ref_seq,
                        const std::vector<RowPair>& pairs, int64_t batch, int64_t row_width) {
  ErrorAccumulator errors;
  for (int64_t b = 0; b < batch; ++b)
    for (const RowPair& pair : pairs) {
      const float* o = out + (b * out_seq + pair.out_row) * row_width;
      const double* r = ref + (b * ref_seq + pair.ref_row) * row_width;
      for (int64_t e = 0; e < row_width; ++e) errors.add(o[e], r[e]);
    }
  return errors.stats();
}

double attention_ops(const Problem& p) {
  const double per_pair = 4.0 * static_cast<double>(p.batch * p.heads * p.head_dim);
  const double all_pairs = static_cast<double>(p.seqlen_q) * static_cast<double>(p.seqlen_k);
  if (!p.causal) return per_pair * all_pairs;
  if (p.seqlen_q == p.seqlen_k) return per_pair * 0.5 * all_pairs;
  double visible = 0;
  for (int64_t i = 0; i < p.seqlen_q; ++i)
    visible += static_cast<double>(visible_keys(true, i, p.seqlen_q, p.seqlen_k));
  return per_pair * visible;
}

}  // namespace intfa::bench
