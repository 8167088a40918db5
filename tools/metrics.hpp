// Error figures against the float64 reference, the reference itself restricted
// to a sample of query rows, and the operation count behind TOPS.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "runner.hpp"

namespace intfa::bench {

// Errors of an output O against the reference R over the compared elements:
//   rel_l1  = sum |O - R| / sum |R|      (0 when both sums are 0, else inf if sum |R| = 0)
//   cos     = sum O R / sqrt(sum O^2 * sum R^2)   (1 when both are all zero, 0 when one is)
//   max_abs = max |O - R|
struct ErrorStats {
  double rel_l1 = NAN;
  double cos = NAN;
  double max_abs = NAN;
};

class ErrorAccumulator {
 public:
  void add(double out, double ref) {
    const double diff = std::fabs(out - ref);
    abs_diff_ += diff;
    abs_ref_ += std::fabs(ref);
    dot_ += out * ref;
    out_sq_ += out * out;
    ref_sq_ += ref * ref;
    if (diff > max_abs_) max_abs_ = diff;
  }
  ErrorStats stats() const;

 private:
  double abs_diff_ = 0, abs_ref_ = 0, dot_ = 0, out_sq_ = 0, ref_sq_ = 0, max_abs_ = 0;
};

// A compared row: token row `out_row` of the output against `ref_row` of the
// reference (both [B, S, H, D] layouts, each token row H*D values).
struct RowPair {
  int64_t out_row = 0;
  int64_t ref_row = 0;
};

// derive_seed stream of a run's row sample, so the rows drawn do not depend on
// (or correlate with) the inputs drawn from the run's seed itself.
inline constexpr uint64_t kRowSampleSeedStream = 1;

// 0, 1, ..., n - 1.
std::vector<int64_t> all_rows(int64_t n);

// Which query rows to check: all rows 0..Sq-1 when `count` is 0 or at least
// Sq, else `count` distinct rows drawn uniformly without replacement; ascending.
std::vector<int64_t> sample_query_rows(int64_t seqlen_q, int64_t count, std::mt19937_64& rng);

// The query rows `rows` of x [B, S, H, D] (f32, contiguous): [B, rows.size(), H, D].
std::vector<float> gather_rows(const float* x, int64_t batch, int64_t seqlen, int64_t row_width,
                               const std::vector<int64_t>& rows);

// Query rows for an error study of a sub-problem: the `computed` rows (query
// positions, ascending) go through the recipes with the full K and V, and
// `scored` pairs index into them: the drawn rows, the ones that count.
// Besides the drawn rows, `computed` holds the token with the largest |Q|
// anywhere in the tensor, so a per-tensor Q scale (fp8-tensor) computed over
// the sub-problem equals the full tensor's; it is scored only if drawn.
struct RowSelection {
  std::vector<int64_t> computed;
  std::vector<RowPair> scored;
};
// q [B, Sq, H, D]; draws `count` rows as sample_query_rows does.
RowSelection select_rows_keeping_q_max(const std::vector<float>& q, int64_t seqlen_q,
                                       int64_t row_width, int64_t count, std::mt19937_64& rng);

// The float64 reference (intfa::attention_reference) of the query rows `rows`
// (ascending, distinct) of problem `p` (f32 host inputs): [B, rows.size(), H, D].
// Attention rows are independent, so these equal the same rows of the full
// reference: each row keeps its true position, so causal masking is exact.
std::vector<double> reference_rows(const Problem& p, const std::vector<int64_t>& rows);

ErrorStats compare_rows(const float* out, int64_t out_seq, const double* ref, int64_t ref_seq,
                        const std::vector<RowPair>& pairs, int64_t batch, int64_t row_width);

// Keys that query row `row` sees: all Sk, or with the causal mask aligned to
// the bottom-right corner (as FlashAttention 2/3 and intfa::attention)
// clamp(row + Sk - Sq + 1, 0, Sk).
int64_t visible_keys(bool causal, int64_t row, int64_t seqlen_q, int64_t seqlen_k);

// Operations of one attention call, for TOPS: 4 * D per (query, key) pair
// (a multiply-add each in S = Q K^T and in O = P V), times B * H.
//   non-causal:         Sq * Sk pairs
//   causal, Sq == Sk:   exactly half, 0.5 * Sq * Sk (the usual convention)
//   causal, Sq != Sk:   the visible pairs counted exactly, sum_i visible_keys(i)
double attention_ops(const Problem& p);

}  // namespace intfa::bench
