// AVX-512 VNNI build of the INT8 kernel: vpdpbusd multiplies 4 u8 by 4 s8 and
// adds them to an int32 lane (64 MACs per instruction). P̂ (0..255, or 0..127
// for the paper recipe) is the unsigned operand of P̂·V̂ as it is; for Q̂·K̂ the
// query is offset to q + 128 (u8) and 128·Σ_d k[d], computed per key while
// packing, is subtracted from the dot product: exact.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/numeric.hpp"
#include "cpu/cpu_backend.hpp"
#include "cpu/simd/exp2_data.hpp"
#include "cpu/simd/kernels.hpp"
#include "cpu/simd/target.hpp"
#include "cpu/softmax_row.hpp"
#include "intfa/params.hpp"

#if INTFA_SIMD_X86
// GCC 12's AVX-512 intrinsics initialize their "undefined" vectors from
// themselves, which -Wuninitialized flags once inlined (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

INTFA_SIMD_TARGET_BEGIN("avx2,fma,f16c,avx512f,avx512bw,avx512vnni")

#define INTFA_SIMD_NS avx512_vnni
#include "cpu/simd/avx512_traits.hpp"
#include "cpu/simd/int_kernel.hpp"
#undef INTFA_SIMD_NS

namespace intfa::cpu::simd {

void attention_int_avx512_vnni(const AttentionParams& p) {
  using Vnni = avx512_vnni::Avx512<true>;
  if (!exp2_vector_ok_avx512()) Vnni::use_vector_exp2.store(false, std::memory_order_relaxed);
  avx512_vnni::attention_int<Vnni>(p);
}

}  // namespace intfa::cpu::simd

INTFA_SIMD_TARGET_END

#else

namespace intfa::cpu::simd {
void attention_int_avx512_vnni(const AttentionParams&) {
  throw Error(StatusCode::unsupported, "this build of intfa has no AVX-512 VNNI kernels");
}
}  // namespace intfa::cpu::simd

#endif
