// Instruction-set selection for the CPU back-end (internal header).
//
// The CPU kernels come in several builds of the same tiled algorithm: portable
// scalar C++, AVX2 (+FMA, F16C), AVX-512 (F + BW) and AVX-512 with VNNI. The
// build to run is chosen at run time, per call:
//   1. the ISA forced with set_forced_isa(), if any; else
//   2. the environment variable INTFA_CPU_ISA = scalar | avx2 | avx512 |
//      avx512_vnni | auto (read at every call, so tools may set it late); else
//   3. detected_isa(), the best one this CPU (and OS) supports.
// Asking for an ISA the CPU lacks, by either route, raises
// Error(StatusCode::unsupported) naming it and the detected one.
//
// All integer paths give bit-identical results (docs/PERF.md, CPU back-end); only the
// speed differs. The float32 flash baseline (attention_f32_flash) also follows
// the selection, and its float results differ slightly between ISAs.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "intfa/params.hpp"
#include "intfa/types.hpp"

namespace intfa::cpu {

enum class Isa : int32_t {
  scalar = 0,       // portable C++, no vector intrinsics
  avx2 = 1,         // AVX2 + FMA + F16C: int16 vpmaddwd products, 8 query rows per vector
  avx512 = 2,       // AVX-512 F + BW: int16 vpmaddwd products, 16 query rows per vector
  avx512_vnni = 3,  // AVX-512 F + BW + VNNI: u8·s8 vpdpbusd products
};

// "scalar", "avx2", "avx512", "avx512_vnni".
const char* isa_name(Isa isa);
// Accepts the names above (also "avx512-vnni"); "auto" gives std::nullopt.
// Throws Error(invalid_argument) listing the valid names otherwise.
std::optional<Isa> parse_isa(std::string_view name);

// Whether this CPU and OS can run the ISA's kernels.
bool isa_supported(Isa isa);
// The best ISA this CPU supports.
Isa detected_isa();

// Forces an ISA for all later CPU kernel calls of this process (every thread);
// std::nullopt returns to automatic selection. Throws Error(unsupported) when
// the CPU lacks it (and leaves the setting unchanged).
void set_forced_isa(std::optional<Isa> isa);
std::optional<Isa> forced_isa();

// The ISA the next CPU kernel call will use: forced, else INTFA_CPU_ISA, else
// detected. Throws Error(unsupported) / Error(invalid_argument) for a bad
// INTFA_CPU_ISA value.
Isa active_isa();

// The ISA attention_tiled(p) runs for these parameters: active_isa() when the
// recipe has a vectorized kernel (int8 Q/K with int8 V and int8/uint8 P, or
// half-int8's fp16 P with float V), else Isa::scalar.
Isa attention_isa(const AttentionParams& p);

// Whether the vectorized exp2 of the SIMD kernels reproduces this process's
// libm exp2f (checked once per ISA on a sample at first use; when it does not,
// the SIMD kernels call exp2f per element and stay exact, only slower).
bool simd_exp2_matches_libm(Isa isa);

}  // namespace intfa::cpu
