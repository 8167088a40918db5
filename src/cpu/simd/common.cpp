// Baseline-compiled helpers shared by the per-ISA kernels: task loop, final
// normalization (through softmax_row.hpp's finish_row, so every path stores
// the same bits), float V loading, and which recipes the SIMD kernels take.
#include <algorithm>
#include <vector>

#include "core/tensor_access.hpp"
#include "core/threading.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/softmax_row.hpp"

namespace intfa::cpu::simd {

bool int_kernel_supports(const AttentionParams& p) {
  if (p.qk_dtype != DType::i8) return false;
  switch (p.recipe.p) {
    case PFormat::int8_running_max:
    case PFormat::uint8_block_max:
      return p.v_dtype == DType::i8;
    case PFormat::fp16:
      return p.v_dtype != DType::i8;
    default:
      return false;
  }
}

void finish_rows(const AttentionParams& p, int64_t b, int64_t h, int64_t q_begin, int64_t rows,
                 const float* acc_t, int64_t stride, const float* m, const float* l) {
  const int64_t D = p.head_dim;
  std::vector<float> row(static_cast<size_t>(D));
  const float* lse_offset =
      p.lse_offset ? p.lse_offset + (b * p.heads + h) * p.seqlen_q : nullptr;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t d = 0; d < D; ++d) row[static_cast<size_t>(d)] = acc_t[d * stride + i];
    RowState st;
    st.m = m[i];
    st.l = l[i];
    const float lse = finish_row(st, row.data(), D, p.softmax_scale,
                                 lse_offset ? lse_offset[q_begin + i] : 0.f);
    detail::store_row(p.out, p.out_dtype,
                      b * p.o_batch_stride + (q_begin + i) * p.o_row_stride + h * p.o_head_stride,
                      row.data(), D);
    if (p.lse) p.lse[(b * p.heads + h) * p.seqlen_q + q_begin + i] = lse;
  }
}

void for_each_query_block(const AttentionParams& p, int64_t rows,
                          void (*fn)(const AttentionParams&, int64_t, int64_t, int64_t, int64_t,
                                     void*),
                          void* ctx) {
  const int64_t q_blocks = (p.seqlen_q + rows - 1) / rows;
  // Heads sharing a KV head are adjacent, and query blocks of one head are
  // consecutive: neighbouring tasks (run at the same time) read the same K/V.
  detail::parallel_for(int64_t(p.batch) * p.heads * q_blocks, [&](int64_t task) {
    const int64_t qb = task % q_blocks;
    const int64_t h = (task / q_blocks) % p.heads;
    const int64_t b = task / (q_blocks * p.heads);
    const int64_t q0 = qb * rows;
    fn(p, b, h, q0, std::min<int64_t>(q0 + rows, p.seqlen_q), ctx);
  });
}

void load_float_v(const AttentionParams& p, int64_t b, int64_t hk, int64_t n0, int64_t n,
                  float* dst) {
  TensorView v;
  v.data = const_cast<void*>(p.v);
  v.dtype = p.v_dtype;
  v.dim = p.head_dim;
  v.stride_batch = p.v_batch_stride, v.stride_seq = p.v_row_stride, v.stride_head = p.v_head_stride;
  for (int64_t j = 0; j < n; ++j) detail::load_row(v, b, n0 + j, hk, dst + j * p.head_dim);
}

}  // namespace intfa::cpu::simd
